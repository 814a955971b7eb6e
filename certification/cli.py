"""``sdnlab skills ...``, ``sdnlab exam ...`` and ``sdnlab cert ...``: thin commands over sdnlab.certification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

skills_app = typer.Typer(help="The skill framework and your skill report.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
LangOpt = Annotated[str, typer.Option("--lang", help="en or ja.")]


cert_app = typer.Typer(help="Certificates: verify, revoke, print.", no_args_is_help=True)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(skills_app, name="skills")
    root.add_typer(cert_app, name="cert")
    for group in root.registered_groups:  # `sdnlab lab render` joins the labs library's group
        if group.name == "lab" and group.typer_instance is not None:
            group.typer_instance.command("render")(lab_render)


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@skills_app.command("list")
def skills_list(json_out: JsonOpt = False, lang: LangOpt = "en"):
    """The skill framework: areas, skills and the criterion of each level."""
    from sdnlab.certification.framework import load_framework

    fw = load_framework()
    if json_out:
        _print_json(
            {
                "version": fw.version,
                "areas": [
                    {
                        "id": a.id,
                        "skills": [{"id": s.id, "title": s.title.en, "levels": s.criteria} for s in a.skills],
                    }
                    for a in fw.areas
                ],
            }
        )
        return
    typer.echo(f"skill framework {fw.version}")
    for area in fw.areas:
        typer.echo(f"{area.title.ja if lang == 'ja' else area.title.en}")
        for skill in area.skills:
            typer.echo(f"  {skill.id}: {skill.title.ja if lang == 'ja' else skill.title.en}")
            for level, text in sorted(skill.criteria.items()):
                typer.echo(f"    {level} {fw.level_name(level, lang)}: {text}")


@skills_app.command("report")
def skills_report(json_out: JsonOpt = False, lang: LangOpt = "en"):
    """Your level in each skill, from the checks you passed (labs and exams), not from lab titles."""
    from sdnlab.certification.framework import load_framework
    from sdnlab.certification.report import trainee_report
    from sdnlab.labs.progress import ProgressStore

    fw = load_framework()
    report = trainee_report(fw, ProgressStore().load(), (), lang)
    if json_out:
        _print_json(report)
        return
    typer.echo(f"skill report (framework {report['framework']})")
    for area in report["areas"]:
        typer.echo(area["title"])
        for row in area["skills"]:
            evidence = (
                f"{row['checks_passed']}/{row['checks_total']} checks passed"
                if row["checks_total"]
                else "no evidence yet"
            )
            typer.echo(f"  {row['skill']:<34} level {row['level']} {row['level_name']:<13} ({evidence})")


# ---------------------------------------------------------------- certificates


def _trusted(key: Path | None):
    from sdnlab.certification import keys
    from sdnlab.certification.errors import CertificationError

    path = key or keys.default_public()
    if not path.is_file():
        raise CertificationError(
            f"no issuer public key at {path}: pass --key ISSUER.pub.pem (or a did:key file)"
        )
    return keys.load_public(path)


@cert_app.command("verify")
def cert_verify(
    certificate: Annotated[Path, typer.Argument(help="The certificate JSON file.")],
    evidence: Annotated[
        Path | None, typer.Option("--evidence", help="The evidence bundle (zip) to check too.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The issuer's public key (PEM or did:key); default: the local issuer's."),
    ] = None,
    revocations: Annotated[
        Path | None,
        typer.Option(
            "--revocations", help="The issuer's revocation list; default: the local one if present."
        ),
    ] = None,
    json_out: JsonOpt = False,
):
    """Verify a certificate offline: exit 0 with its facts, non-zero with the reason."""
    from sdnlab.certification import credential, keys

    if revocations is None and keys.default_public().parent.joinpath(REVOCATIONS).is_file() and key is None:
        revocations = keys.default_public().parent / REVOCATIONS
    facts = credential.verify(certificate, _trusted(key), evidence, revocations)
    if json_out:
        _print_json(
            {
                "valid": True,
                "evidence_checked": evidence is not None,
                "revocations_checked": revocations is not None,
                **facts.to_dict(),
            }
        )
        return
    typer.echo(f"VALID certificate {facts.credential_id}")
    typer.echo(f"  trainee: {facts.trainee}")
    typer.echo(f"  exam: {facts.exam_title} ({facts.exam_id}), attempt {facts.attempt_id}, seed {facts.seed}")
    typer.echo(
        f"  score: {facts.score_percent:g}% (pass mark {facts.pass_percent:g}%), issued {facts.issued}"
    )
    for skill, level in sorted(facts.skills.items()):
        typer.echo(f"  skill {skill}: level {level}")
    typer.echo(f"  issuer: {facts.issuer}")
    typer.echo(
        f"  evidence: {'bundle checked' if evidence else 'not checked (pass --evidence)'}; "
        f"revocation: {'checked' if revocations else 'no list given'}"
    )
    if facts.reference_run:
        typer.echo("  NOTE: a reference run (instructor), not a trainee's result")


REVOCATIONS = "revocations.json"


@cert_app.command("revoke")
def cert_revoke(
    certificate: Annotated[str, typer.Argument(help="A certificate file or its id (urn:uuid:...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown by verify).")],
    revocations: Annotated[
        Path | None, typer.Option("--revocations", help="The list to update (default: next to the keys).")
    ] = None,
):
    """Instructor: add a certificate to the issuer's signed revocation list."""
    from sdnlab.certification import credential, keys
    from sdnlab.certification.paths import keys_dir

    cert_id = certificate
    if Path(certificate).is_file():
        cert_id = json.loads(Path(certificate).read_text(encoding="utf-8")).get("id", "")
    path = revocations or keys_dir() / REVOCATIONS
    count = credential.revoke(path, cert_id, reason, keys.load_or_create())
    typer.echo(f"revoked {cert_id} ({count} in {path})")


@cert_app.command("key")
def cert_key():
    """Print where the issuer's public key is (created at first use) and its did:key."""
    from sdnlab.certification import keys

    key = keys.load_or_create()
    typer.echo(f"{keys.default_public()}\n{keys.did_key(key.public_key())}")


@cert_app.command("page")
def cert_page(
    certificate: Annotated[Path, typer.Argument(help="A certificate JSON file (verified first).")],
    out: Annotated[
        Path | None, typer.Option("-o", help="Output stem (default: next to the certificate).")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="The issuer's public key.")] = None,
    pdf: Annotated[bool, typer.Option(help="Also print PDFs with headless Chromium when available.")] = True,
):
    """Write the printable pages (English and Japanese HTML, PDF when Chromium is present)."""
    from sdnlab.certification import credential, page
    from sdnlab.certification.framework import load_framework

    facts = credential.verify(certificate, _trusted(key))
    fw = load_framework()
    names = {lang: {n: fw.level_name(n, lang) for n in fw.levels} for lang in ("en", "ja")}
    for path in page.write_pages(facts, out or certificate.with_suffix(""), names, pdf):
        typer.echo(f"wrote {path}")


# ---------------------------------------------------------------- variants


def lab_render(
    lab: Annotated[str, typer.Argument(help="Lab id, number or folder.")],
    seed: Annotated[int, typer.Option("--seed", help="The variant's seed.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write the rendered lab into.")],
):
    """Instructor: write one variant of a lab (topology, task texts, starter, solution) for reading."""
    from sdnlab.certification import variants
    from sdnlab.labs.loader import find_lab_dir, load_lab

    rendered = variants.render(find_lab_dir(lab), seed, out)
    load_lab(rendered.path)  # the variant is a valid lab
    values = ", ".join(f"{k}={v}" for k, v in sorted(rendered.values.items())) or "no variables"
    typer.echo(f"wrote {rendered.path} (seed {seed}: {values})")
