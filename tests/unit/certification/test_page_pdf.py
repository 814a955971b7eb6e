"""``sdnlab cert page`` prints the certificate to PDF through headless Chromium: the English PDF
carries the trainee's name and the exam, the Japanese one its Japanese text in an embedded
Japanese font (no tofu boxes); without Chromium the pages are written and the PDF's absence is
explained."""

import json
from pathlib import Path

import pdfcheck
from typer.testing import CliRunner

from sdnlab.certification import bundle, credential, keys, page
from sdnlab.cli import root


def issue(tmp_path) -> Path:
    """A signed certificate of Hanako Yamada for quick_openflow, key in ``$SDNLAB_CERT_KEYS``."""
    key = keys.load_or_create(tmp_path / "keys")
    info = bundle.write_bundle(tmp_path / "evidence.zip", {"report.json": b'{"percent": 90}'}, {"seed": 3})
    facts = credential.CertificateFacts(
        trainee="Hanako Yamada",
        exam_id="quick_openflow",
        exam_title="Quick check: OpenFlow flows and least privilege",
        framework_version="1.0",
        skills={"openflow.match_action": 2},
        score_percent=90.0,
        pass_percent=70.0,
        issued="2026-12-05T06:00:00Z",
        attempt_id="quick_openflow-20261205-1",
        seed=3,
        manifest_sha256=info.manifest_sha256,
        bundle_sha256=info.bundle_sha256,
        skill_names={"openflow.match_action": "Match and action"},
    )
    path = tmp_path / "cert.json"
    credential.save(credential.build(facts, key), path)
    return path


def cert_page(tmp_path, *extra: str) -> dict:
    result = CliRunner().invoke(
        root, ["cert", "page", str(issue(tmp_path)), "-o", str(tmp_path / "page"), *extra]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout) if "--json" in extra else {"output": result.output}


def test_the_pdfs_carry_the_name_the_exam_and_japanese_text_in_an_embedded_japanese_font(
    tmp_path, monkeypatch
):
    pdfcheck.need_tools()
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))
    written = cert_page(tmp_path, "--json")["written"]
    assert written == [str(tmp_path / f"page.{n}") for n in ("en.html", "en.pdf", "ja.html", "ja.pdf")]
    english = (tmp_path / "page.en.pdf").read_bytes()
    words = " ".join(pdfcheck.text(english).split())
    assert "Hanako Yamada" in words and "Quick check: OpenFlow flows and least privilege" in words
    assert "quick_openflow" in words and "Certificateofskill" in words.replace(" ", "")  # spaced title
    japanese = (tmp_path / "page.ja.pdf").read_bytes()
    words = "".join(pdfcheck.text(japanese).split())
    assert "技能認定証" in words and "実技試験に合格したことを証明します" in words and "HanakoYamada" in words
    font = pdfcheck.embedded_japanese_font(japanese)
    assert font is not None, f"no embedded Japanese font: {pdfcheck.fonts(japanese)}"
    assert pdfcheck.embedded_japanese_font(english) is None, "the English page needs no Japanese font"


def test_without_chromium_the_html_pages_are_written_and_the_missing_pdf_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))
    monkeypatch.setattr(page, "chromium", lambda: None)
    answer = cert_page(tmp_path, "--json")
    assert answer["written"] == [str(tmp_path / "page.en.html"), str(tmp_path / "page.ja.html")]
    assert "no Chromium" in answer["no_pdf"] and "apt-get install chromium" in answer["no_pdf"]
    assert "no PDF: no Chromium" in cert_page(tmp_path)["output"]


def test_a_chromium_that_hangs_is_killed_at_the_time_limit_with_its_children(tmp_path, monkeypatch):
    import os
    import time

    import pytest

    hang = tmp_path / "hanging-chromium"
    pids = tmp_path / "pids"
    hang.write_text(f"#!/bin/sh\nsleep 300 & echo $! >> {pids}\necho $$ >> {pids}\nwait\n")
    hang.chmod(0o755)
    monkeypatch.setattr(page, "chromium", lambda: str(hang))
    started = time.monotonic()
    with pytest.raises(page.PrintError, match="within 1 s"):
        page.print_pdf("<p>x</p>", timeout=1.0)
    assert time.monotonic() - started < 10
    for pid in map(int, pids.read_text().split()):
        for _ in range(50):  # killed: gone once its parent (init or us) reaped it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"process {pid} of the hanging browser is still running")


def test_a_chromium_that_cannot_start_is_a_print_error(tmp_path, monkeypatch):
    import pytest

    broken = tmp_path / "chromium-not-executable"
    broken.write_text("#!/bin/sh\n")
    broken.chmod(0o644)
    monkeypatch.setattr(page, "chromium", lambda: str(broken))
    with pytest.raises(page.PrintError, match="did not start"):
        page.print_pdf("<p>x</p>", timeout=5.0)


def test_a_helper_that_left_the_group_holding_stderr_does_not_hold_the_print_past_its_limit(
    tmp_path, monkeypatch
):
    """A child in a session of its own keeps Chromium's stderr open: killing the group does not end
    it, and waiting for stderr to close waited for it (here 30 s)."""
    import os
    import signal
    import time

    import pytest

    hang = tmp_path / "hanging-chromium"
    pids = tmp_path / "pids"
    hang.write_text(f"#!/bin/sh\nsetsid sleep 30 & echo $! >> {pids}\nexec sleep 300\n")
    hang.chmod(0o755)
    monkeypatch.setattr(page, "chromium", lambda: str(hang))
    started = time.monotonic()
    try:
        with pytest.raises(page.PrintError, match="within 1 s"):
            page.print_pdf("<p>x</p>", timeout=1.0)
        assert time.monotonic() - started < 15
    finally:
        for pid in map(int, pids.read_text().split()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
