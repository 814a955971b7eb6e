"""Where certification data lives: framework and exams in the repository, keys and attempts on disk.

Keys default to ``/var/lib/sdnlab/keys`` (``$SDNLAB_CERT_KEYS`` overrides), a folder a trainee
account cannot read; attempts and certificates go under ``$SDNLAB_HOME/certification``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def framework_file() -> Path:
    """``$SDNLAB_SKILLS`` or the repository's ``skills/framework.yaml``."""
    return Path(os.environ.get("SDNLAB_SKILLS") or REPO / "skills" / "framework.yaml")


def exams_dir() -> Path:
    """``$SDNLAB_EXAMS`` or the repository's ``exams/`` catalogue."""
    return Path(os.environ.get("SDNLAB_EXAMS") or REPO / "exams")


def keys_dir() -> Path:
    """``$SDNLAB_CERT_KEYS`` or ``/var/lib/sdnlab/keys``."""
    return Path(os.environ.get("SDNLAB_CERT_KEYS") or "/var/lib/sdnlab/keys")


def home() -> Path:
    """``$SDNLAB_HOME/certification`` (attempts, bundles, certificates)."""
    from sdnlab.labs.progress import sdnlab_home

    return sdnlab_home() / "certification"
