"""Failures of a lab's controller app, read back for feedback that names the trainee's own line.

The controller runner appends one JSON object per line to the file named by
``SDNLAB_APP_ERRORS`` (the supervisor sets it to ``<lab dir>/app-errors.jsonl``): ``kind``
(``exception`` or ``hang``), ``time``, ``app``, ``handler``, ``exc_type``, ``message``, ``file``,
``line`` and ``count`` (how often so far; the last record per failure is the current count).
``summarize`` turns records into sentences; a missing or partly written file is no failure.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

FILE_NAME = "app-errors.jsonl"
ENV_VAR = "SDNLAB_APP_ERRORS"


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete JSON records of an app-errors file (none when it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written, or garbage: skip it
        if isinstance(record, dict):
            records.append(record)
    return records


def _key(record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(record.get(k)) for k in ("kind", "app", "handler", "exc_type", "file", "line"))


def _count_text(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def summarize(records: list[dict[str, Any]], since: float = 0.0) -> list[str]:
    """One sentence per distinct failure seen at or after ``since`` (Unix time), most frequent first."""
    latest: dict[tuple[str, ...], dict[str, Any]] = {}
    for record in records:
        latest[_key(record)] = record
    recent = [r for r in latest.values() if _number(r.get("time")) >= since]
    recent.sort(key=lambda r: -_number(r.get("count", 1)))
    lines = []
    for r in recent:
        where = f"{os.path.basename(str(r.get('file') or '?'))}:{r.get('line') or '?'}"
        handler = str(r.get("handler") or "a handler")
        if r.get("kind") == "hang":
            seconds = re.search(r"(\d+(?:\.\d+)?) s", str(r.get("message") or ""))
            took = f" for {seconds.group(1)} s" if seconds else ""
            what = "packet-ins" if "packet_in" in handler else "its events"
            lines.append(
                f"the controller did not answer {what}{took}: "
                f"your app's {handler} was still running at {where}"
            )
        else:
            message = str(r.get("message") or "").strip().splitlines()[0:1]
            detail = f": {message[0][:160]}" if message and message[0] else ""
            count = int(_number(r.get("count", 1))) or 1
            lines.append(
                f"your app raised {r.get('exc_type') or 'an exception'} at {where} in {handler} "
                f"({_count_text(count)}){detail}"
            )
    return lines


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def lab_app_errors(lab_dir: Path, since: float = 0.0) -> list[str]:
    """Sentences for the failures of the app running in a lab (see ``summarize``)."""
    return summarize(read_records(Path(lab_dir) / FILE_NAME), since)
