"""Where the browser tests save their screenshots.

A test run must not rewrite tracked files, so by default they go to build/screenshots/ (ignored);
`make screenshots` sets SDNLAB_SCREENSHOTS to docs/img/ to refresh the documentation's pictures.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    """The folder for screenshots (created): $SDNLAB_SCREENSHOTS, else build/screenshots/."""
    chosen = os.environ.get("SDNLAB_SCREENSHOTS")
    folder = Path(chosen) if chosen else ROOT / "build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
