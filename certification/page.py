"""The printable certificate page: HTML in English or Japanese, PDF through headless Chromium when present."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

from sdnlab.certification.credential import CertificateFacts

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
<title>{e(w["title"])}: {e(facts.trainee)}</title>
<style>
body {{ font-family: 'Noto Sans CJK JP', 'Noto Sans', sans-serif; margin: 2cm; color: #123; }}
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
    """A headless-capable Chromium binary, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(html_path: Path, pdf_path: Path, timeout: float = 60.0) -> bool:
    """Print the HTML page to PDF with headless Chromium; False when no browser or it failed."""
    browser = chromium()
    if not browser:
        return False
    try:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                Path(html_path).resolve().as_uri(),
            ],
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and Path(pdf_path).is_file() and Path(pdf_path).stat().st_size > 0


def write_pages(
    facts: CertificateFacts, stem: Path, level_names_by_lang: dict[str, dict[int, str]], pdf: bool = True
) -> list[Path]:
    """``STEM.en.html``, ``STEM.ja.html`` and, when Chromium works, their PDFs; returns the files written."""
    written = []
    for lang in ("en", "ja"):
        page = Path(f"{stem}.{lang}.html")
        page.write_text(render_html(facts, lang, level_names_by_lang.get(lang)), encoding="utf-8")
        written.append(page)
        if pdf and write_pdf(page, Path(f"{stem}.{lang}.pdf")):
            written.append(Path(f"{stem}.{lang}.pdf"))
    return written
