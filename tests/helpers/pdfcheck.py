"""What a PDF really carries, read with poppler's ``pdftotext`` and ``pdffonts`` (poppler-utils).

Shared by the certificate tests of the CLI (``sdnlab cert page``) and of the classroom server
(``GET /api/me/certificates/{id}/pdf``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class PdfFont:
    name: str  # as embedded: a subset tag and the family, e.g. "AAAAAA+IPAexGothic"
    type: str
    embedded: bool


def need_tools() -> None:
    """Skip (naming the package) where Chromium, poppler-utils or a Japanese font is missing."""
    from sdnlab.certification.page import chromium

    if chromium() is None:
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    if not (shutil.which("pdftotext") and shutil.which("pdffonts")):
        pytest.skip("poppler-utils is not installed (tools/setup.sh installs it)")
    if not japanese_families():
        pytest.skip("no Japanese font (fc-list :lang=ja is empty; tools/setup.sh installs one)")


def japanese_families() -> set[str]:
    """The families of the installed fonts that cover Japanese, without spaces (as PDFs name them)."""
    out = subprocess.run(
        ["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False
    ).stdout
    return {name.replace(" ", "") for line in out.splitlines() for name in line.split(",") if name.strip()}


def _with_file(data: bytes, command: list[str]) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        pdf.write(data)
        pdf.flush()
        done = subprocess.run([*command, pdf.name, *(["-"] if command[0] == "pdftotext" else [])],
                              capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        return done.stdout


def text(data: bytes) -> str:
    """The PDF's text as a reader copies it (its fonts' Unicode maps)."""
    assert data.startswith(b"%PDF-"), data[:40]
    return _with_file(data, ["pdftotext", "-enc", "UTF-8"])


def fonts(data: bytes) -> list[PdfFont]:
    """The fonts the PDF uses, from ``pdffonts`` (name, type, embedded)."""
    lines = _with_file(data, ["pdffonts"]).splitlines()[2:]  # a header line and a rule
    found = []
    for line in lines:
        parts = line.split()
        emb = parts[-5]  # name type... encoding emb sub uni object-number generation
        found.append(PdfFont(parts[0], " ".join(parts[1:-6]), emb == "yes"))
    return found


def embedded_japanese_font(data: bytes) -> PdfFont | None:
    """An embedded font of the PDF that is one of this machine's Japanese families (None: tofu)."""
    families = japanese_families()
    for font in fonts(data):
        family = font.name.split("+", 1)[-1]
        if font.embedded and any(family.startswith(f) or f.startswith(family) for f in families):
            return font
    return None
