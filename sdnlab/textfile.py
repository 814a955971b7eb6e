"""Reading a user's text file as UTF-8 with one-line errors (shared by every reader of user files).

``decode_text(data, source, error)`` turns bytes into text or raises the caller's error class with
``<source>:<line>: not UTF-8 text (byte 0x..); save it as UTF-8``, ``<line>`` being the line of the
first byte that is not UTF-8. ``read_text(path, error, what)`` reads a file and decodes it the same
way; a missing file, a directory or a permission problem raise
``<path>: cannot read [<what>]: <reason>``. A leading UTF-8 byte order mark (as some Windows
editors write) is dropped.
"""

from __future__ import annotations

from pathlib import Path

BOM = "\ufeff"


def decode_text(data: bytes, source: str, error: type[Exception] = ValueError) -> str:
    """The UTF-8 text of ``data`` (read from ``source``); bad bytes raise ``error`` at their line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    return text[1:] if text.startswith(BOM) else text


def read_text(
    path: str | Path, error: type[Exception] = ValueError, what: str = "", name: str | None = None
) -> str:
    """The UTF-8 text of the file ``path``; any problem raises one-line ``error`` naming the file.

    ``what`` says what the file is in the "cannot read" message (``cannot read spec: ...``);
    ``name`` is how the file is named in messages (default: ``path`` as given).
    """
    shown = str(path) if name is None else name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        label = f"cannot read {what}" if what else "cannot read"
        raise error(f"{shown}: {label}: {exc.strerror or exc}") from None
    return decode_text(data, shown, error)
