"""Reading the user's input files (dumps, specs, packet lists) with one-line errors, never a traceback.

Every file the grader reads on a user's behalf goes through ``read_text``: a missing file, a
directory, a permission problem or bytes that are not UTF-8 become the caller's error class with
a message naming the file (and, for bad bytes, the line and the byte); see ``sdnlab.textfile``.
"""

from __future__ import annotations

from pathlib import Path

from sdnlab import textfile


def read_text(path: str | Path, what: str, error: type[Exception] = ValueError) -> str:
    """The UTF-8 text of ``path``; raises ``error("<path>: cannot read <what>: ...")`` or
    ``error("<path>:<line>: not UTF-8 text (byte 0x..); ...")``."""
    return textfile.read_text(path, error, what)
