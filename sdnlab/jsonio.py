"""JSON for machines: one text style for command output and one atomic file writer.

Command output (``--json``) is ``dumps``: indented by 2, keys in the order the library built
them, non-ASCII text (Japanese) kept as is. Records that stream (DPI flows, events) are JSON
Lines: ``dumps_line``, one compact object per line. State files are written with
``write_atomic``: a temporary file in the same folder, flushed and renamed over the target, so
a reader never sees half a file and a crash leaves the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

INDENT = 2


def dumps(data: Any) -> str:
    """``data`` as indented JSON (the ``--json`` output of every command)."""
    return json.dumps(data, indent=INDENT, ensure_ascii=False, default=str)


def dumps_line(data: Any) -> str:
    """``data`` as one compact JSON line (JSON Lines, for records that stream)."""
    return json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))


def write_atomic(
    path: Path | str,
    data: Any,
    *,
    indent: int | None = 1,
    sort_keys: bool = True,
    fsync: bool = False,
    mode: int = 0o644,
) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; readers (status, other users' tools) need `mode`
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=str)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
