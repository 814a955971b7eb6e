"""Where the instructor-only data lives: reference solutions, hidden checks, their variant templates.

Nothing a trainee must not see is installed with the Python packages (anything under ``labs/``
is importable and readable by a trainee's Python). It lives in a data folder that is not a
package and is not installed::

    instructor/                       # $SDNLAB_INSTRUCTOR_DIR, else <source checkout>/instructor
      labs/<id>/solution/...          # the reference workspace (same layout as labs/<id>/starter)
      labs/<id>/hidden.yaml           # hidden behaviours and probes (lab.yaml's format)
      labs/<id>/variant/templates/... # templates of the two above ({{NAME}} placeholders)
      labs/<id>/variant/derive.py     # optional: generated solution files of a variant

The catalogue's instructor root is ``$SDNLAB_INSTRUCTOR_DIR`` when set, else the ``instructor/``
folder of the source checkout sdnlab runs from (an editable install); on a trainee's machine
neither exists and ``root()`` is None: labs load with their public checks only and instructor
commands say that the data is not available. Outside the catalogue (a lab folder made with
``sdnlab lab new --root R``, a rendered variant) a labs folder ``R`` keeps the instructor part of
``R/<id>`` in ``R/instructor/<id>``.

On a shared machine (a classroom server) the folder must be readable by the server's user only:
``chown -R SERVER_USER instructor && chmod 0700 instructor``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sdnlab.errors import SdnlabError

ENV = "SDNLAB_INSTRUCTOR_DIR"
FOLDER = "instructor"  # the data folder's name in a source checkout, and beside non-catalogue labs
LABS = "labs"
SOLUTION = "solution"
HIDDEN = "hidden.yaml"
NOT_AVAILABLE = "hidden checks not available on this machine"


class InstructorDataMissing(SdnlabError):
    """Instructor-only data (a reference solution, hidden checks) is not on this machine."""


def checkout_root() -> Path | None:
    """The source checkout sdnlab runs from (an editable install), or None for an installed package."""
    top = Path(__file__).resolve().parent.parent
    if (top / "setup.py").is_file() and (top / "labs" / "loader.py").is_file():
        return top
    return None


def root() -> Path | None:
    """The catalogue's instructor data folder, or None when this machine has none."""
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_dir() else None
    checkout = checkout_root()
    if checkout is not None and (checkout / FOLDER).is_dir():
        return checkout / FOLDER
    return None


def where_to_set() -> str:
    """One sentence on how to make instructor data available (for error messages)."""
    configured = os.environ.get(ENV)
    if configured:
        return f"{ENV}={configured} is not a folder"
    return f"set {ENV} to the instructor data folder (instructor/ of an sdnlab source checkout)"


def lab_part(lab_dir: Path) -> Path | None:
    """The instructor part of the lab folder ``lab_dir``, or None when it is not available.

    A catalogue lab's part is ``<root()>/labs/<id>``; any other lab's is ``<its folder's parent>/
    instructor/<id>`` (see the module docstring)."""
    from sdnlab.labs.loader import labs_root

    lab_dir = Path(lab_dir).resolve()
    if lab_dir.parent == labs_root():
        base = root()
        part = base / LABS / lab_dir.name if base is not None else None
    else:
        part = lab_dir.parent / FOLDER / lab_dir.name
    return part if part is not None and part.is_dir() else None


def companion(lab_dir: Path) -> Path:
    """Where the instructor part of a non-catalogue lab folder goes (it may not exist yet)."""
    lab_dir = Path(lab_dir)
    return lab_dir.parent / FOLDER / lab_dir.name


def catalogue_part(lab_id: str) -> Path:
    """Where a catalogue lab's instructor part is (``InstructorDataMissing`` when there is no root)."""
    base = root()
    if base is None:
        raise InstructorDataMissing(f"instructor data of lab {lab_id!r} not available: {where_to_set()}")
    return base / LABS / lab_id


def copy_lab(lab_dir: Path, target_root: Path) -> Path:
    """Copy a lab folder to ``target_root/<id>`` and its instructor part, where this machine has it,
    to ``target_root/instructor/<id>`` (where the loader finds it); returns the new lab folder."""
    import shutil

    lab_dir = Path(lab_dir)
    target = Path(target_root) / lab_dir.name
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(lab_dir, target, ignore=ignore)
    part = lab_part(lab_dir)
    if part is not None:
        shutil.copytree(part, companion(target), ignore=ignore)
    return target
