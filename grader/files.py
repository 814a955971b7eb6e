"""Reading the user's input files (dumps, specs, packet lists) with one-line errors, never a traceback.

Every file the grader reads on a user's behalf goes through ``read_text``: a missing file, a
directory, a permission problem or bytes that are not UTF-8 become the caller's error class with
a message naming the file (and, for bad bytes, the line and byte offset).
"""

from __future__ import annotations

from pathlib import Path


def decode_problem(data: bytes, exc: UnicodeDecodeError) -> tuple[int, str]:
    """(line, description) of the first byte of ``data`` that is not UTF-8."""
    line = data.count(b"\n", 0, exc.start) + 1
    return line, f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8 text (a binary file?)"


def read_text(path, what: str, error=ValueError) -> str:
    """The UTF-8 text of ``path``; any problem raises ``error("<path>: cannot read <what>: ...")``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, problem = decode_problem(data, exc)
        raise error(f"{path}:{line}: cannot read {what}: {problem}") from None
