"""The printable certificate page: HTML in English or Japanese, PDF through headless Chromium when present.

The PDF is Chromium's print of the same page (``print_pdf``): a fresh profile in a scratch
folder, a time limit after which Chromium and every process it started are killed, and a
``PrintError`` naming why there is no PDF (no Chromium, a failure, the time limit). The
Japanese page needs a Japanese font on the machine (``fc-list :lang=ja``; tools/setup.sh
installs fonts-ipaexfont-gothic), or Chromium prints boxes for its text.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from sdnlab.certification.credential import CertificateFacts
from sdnlab.errors import EnvironmentProblem

FONTS = {  # the first installed family wins; fontconfig's fallback for the language comes after
    "en": "'Noto Sans', 'DejaVu Sans', sans-serif",
    "ja": "'Noto Sans CJK JP', 'IPAexGothic', 'IPAGothic', 'VL Gothic', sans-serif",
}


class PrintError(EnvironmentProblem):
    """No PDF could be printed: Chromium is missing, failed, or did not finish in time."""


WORDS = {
    "en": {
        "title": "Certificate of skill",
        "certifies": "This certifies that",
        "passed": "passed the practical exam",
        "score": "Score",
        "pass": "pass mark",
        "skills": "Skills and levels demonstrated",
        "skill": "Skill",
        "level": "Level",
        "issued": "Issued",
        "id": "Certificate id",
        "issuer": "Issuer key",
        "evidence": "Evidence manifest SHA-256",
        "verify": (
            "Verify offline: sdnlab cert verify CERTIFICATE.json --evidence BUNDLE.zip --key ISSUER.pub.pem"
        ),
        "reference": "REFERENCE RUN (instructor): not a trainee's result",
        "framework": "Skill framework",
    },
    "ja": {
        "title": "技能認定証",
        "certifies": "以下の者は",
        "passed": "の実技試験に合格したことを証明します",
        "score": "得点",
        "pass": "合格点",
        "skills": "実証された技能とレベル",
        "skill": "技能",
        "level": "レベル",
        "issued": "発行日",
        "id": "認定証 ID",
        "issuer": "発行者の鍵",
        "evidence": "証跡マニフェスト SHA-256",
        "verify": "オフライン検証: sdnlab cert verify 認定証.json --evidence 証跡.zip --key 発行者.pub.pem",
        "reference": "参照解答による実行（講師用）: 受講者の結果ではありません",
        "framework": "技能フレームワーク",
    },
}


def render_html(facts: CertificateFacts, lang: str = "en", level_names: dict[int, str] | None = None) -> str:
    """One self-contained HTML page (inline CSS, no external resources)."""
    w = WORDS["ja" if lang == "ja" else "en"]
    e = html.escape
    names = level_names or {}
    rows = "\n".join(
        f"<tr><td>{e(facts.skill_names.get(s, s))}<br><code>{e(s)}</code></td>"
        f"<td>{lvl} {e(names.get(lvl, ''))}</td></tr>"
        for s, lvl in sorted(facts.skills.items())
    )
    passed = (
        f"<p class=big>{e(facts.exam_title)}</p><p>{e(w['passed'])}</p>"
        if lang == "ja"
        else f"<p>{e(w['passed'])}</p><p class=big>{e(facts.exam_title)}</p>"
    )
    reference = f"<p class=ref>{e(w['reference'])}</p>" if facts.reference_run else ""
    return f"""<!DOCTYPE html>
<html lang="{"ja" if lang == "ja" else "en"}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{e(w["title"])}: {e(facts.trainee)}</title>
<style>
body {{ font-family: {FONTS["ja" if lang == "ja" else "en"]}; margin: 2cm; color: #123; }}
.frame {{ border: 6px double #246; padding: 1.5cm; text-align: center; }}
h1 {{ letter-spacing: .1em; }} .big {{ font-size: 1.8em; font-weight: bold; margin: .3em; }}
table {{ margin: 1em auto; border-collapse: collapse; }}
td, th {{ border: 1px solid #9ab; padding: .3em .8em; text-align: left; }}
.small {{ font-size: .75em; color: #456; word-break: break-all; text-align: left; }}
.ref {{ color: #a00; font-weight: bold; }}
</style></head><body><div class=frame>
<h1>{e(w["title"])}</h1>{reference}
<p>{e(w["certifies"])}</p><p class=big>{e(facts.trainee)}</p>
{passed}
<p>{e(w["score"])}: <b>{facts.score_percent:g}%</b> ({e(w["pass"])} {facts.pass_percent:g}%)</p>
<h2>{e(w["skills"])}</h2>
<table><tr><th>{e(w["skill"])}</th><th>{e(w["level"])}</th></tr>
{rows}
</table>
<p>{e(w["issued"])}: {e(facts.issued)}</p>
<div class=small>
<p>{e(w["id"])}: {e(facts.credential_id)}</p>
<p>{e(w["framework"])}: {e(facts.framework_version)} &nbsp; exam: {e(facts.exam_id)}
&nbsp; attempt: {e(facts.attempt_id)} &nbsp; seed: {facts.seed}</p>
<p>{e(w["issuer"])}: {e(facts.issuer)}</p>
<p>{e(w["evidence"])}: {e(facts.manifest_sha256)}</p>
<p>{e(w["verify"])}</p>
</div></div></body></html>
"""


def chromium() -> str | None:
    """A headless-capable Chromium binary, if installed (the server image has Debian's
    ``chromium-headless-shell``: the same printing without the desktop browser's libraries)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page_html: str, timeout: float = 60.0) -> bytes:
    """The page printed to PDF by headless Chromium; ``PrintError`` naming why not.

    Chromium gets a scratch folder as its profile and home (nothing shared between two prints
    or with the account's own browser) and runs in a process group of its own: at ``timeout``
    the whole group is killed, so no renderer is left behind.
    """
    browser = chromium()
    if not browser:
        raise PrintError("no Chromium on this machine to print the PDF (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="sdnlab-pdf-") as scratch:
        folder = Path(scratch)
        page, pdf = folder / "page.html", folder / "page.pdf"
        page.write_text(page_html, encoding="utf-8")
        home = {"HOME": scratch, "XDG_CONFIG_HOME": scratch, "XDG_CACHE_HOME": scratch}
        try:
            proc = subprocess.Popen(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-extensions",
                    f"--user-data-dir={folder / 'profile'}",
                    "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}",
                    page.as_uri(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, **home},
                start_new_session=True,
            )
        except OSError as exc:  # not executable, gone since ``chromium()`` looked, out of memory
            raise PrintError(f"Chromium did not start: {exc}") from None
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            try:  # a helper that left the group may keep stderr open: do not wait for it forever
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                if proc.stderr is not None:
                    proc.stderr.close()
                proc.wait()  # Chromium itself was in the killed group
            raise PrintError(f"Chromium did not print the page within {timeout:g} s") from None
        finally:
            _kill_group(proc.pid)  # helpers Chromium left behind, if any
        if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            said = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
            raise PrintError(
                f"Chromium did not print the page (exit {proc.returncode})"
                + (f": {said[-1][:300]}" if said else "")
            )
        return pdf.read_bytes()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def write_pages(
    facts: CertificateFacts, stem: Path, level_names_by_lang: dict[str, dict[int, str]], pdf: bool = True
) -> tuple[list[Path], str]:
    """``STEM.en.html``, ``STEM.ja.html`` and, when Chromium works, their PDFs: (the files written,
    why there is no PDF or "")."""
    written, problem = [], ""
    for lang in ("en", "ja"):
        page = Path(f"{stem}.{lang}.html")
        text = render_html(facts, lang, level_names_by_lang.get(lang))
        page.write_text(text, encoding="utf-8")
        written.append(page)
        if pdf and not problem:
            try:
                Path(f"{stem}.{lang}.pdf").write_bytes(print_pdf(text))
                written.append(Path(f"{stem}.{lang}.pdf"))
            except PrintError as exc:
                problem = str(exc)
    return written, problem
