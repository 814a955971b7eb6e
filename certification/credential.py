"""Certificates: W3C Verifiable Credentials (Open Badges 3.0 ``OpenBadgeCredential``) signed with Ed25519.

The proof is a Data Integrity proof with the ``eddsa-jcs-2022`` cryptosuite: the signature covers
SHA-256(canonical proof options) || SHA-256(canonical credential without proof), canonical
meaning sorted-key, whitespace-free UTF-8 JSON (JCS for the values written here). The issuer is
the ``did:key`` of the signing key, so the certificate names the key it needs; a verifier
trusts it only if it equals the issuer key it was given (``--key``) or the local one.

The certificate file is stored in one exact form (sorted keys, two-space indent); ``verify``
refuses a file that differs by any byte from that form, a wrong signature or key, a revoked id
(the issuer's signed revocation list) and, given the evidence bundle, any changed evidence.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sdnlab.certification import keys
from sdnlab.certification.bundle import verify_bundle
from sdnlab.certification.canonical import canonical, pretty, sha256_hex
from sdnlab.certification.errors import CertificationError, VerificationFailed

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
CRYPTOSUITE = "eddsa-jcs-2022"
ISSUER_NAME = "sdnlab"


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate states (and ``verify`` reports)."""

    trainee: str
    exam_id: str
    exam_title: str
    framework_version: str
    skills: dict[str, int]
    score_percent: float
    pass_percent: float
    issued: str  # ISO 8601 UTC
    attempt_id: str
    seed: int | None
    manifest_sha256: str
    bundle_sha256: str
    reference_run: bool = False
    credential_id: str = ""
    issuer: str = ""
    skill_names: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def now_iso(now: float | None = None) -> str:
    moment = (
        datetime.datetime.fromtimestamp(now, datetime.UTC)
        if now is not None
        else datetime.datetime.now(datetime.UTC)
    )
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sign(document: dict, key: Ed25519PrivateKey, created: str) -> dict:
    issuer = keys.did_key(key.public_key())
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": f"{issuer}#{issuer[len('did:key:') :]}",
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(bytes.fromhex(sha256_hex(canonical(options)) + sha256_hex(canonical(document))))
    return {**document, "proof": {**options, "proofValue": "z" + keys.b58encode(signature)}}


def _check_proof(document: dict, trusted: Ed25519PublicKey, what: str) -> None:
    """The document's proof is a valid eddsa-jcs-2022 signature by ``trusted``; else VerificationFailed."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise VerificationFailed(f"{what}: no proof (unsigned)")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise VerificationFailed(f"{what}: proof is not a {CRYPTOSUITE} DataIntegrityProof")
    issuer = keys.did_key(trusted)
    method = str(proof.get("verificationMethod", ""))
    if method.split("#", 1)[0] != issuer:
        raise VerificationFailed(
            f"{what}: signed by another key ({method.split('#', 1)[0] or 'none'}), "
            f"not the trusted issuer {issuer}"
        )
    value = proof.get("proofValue")
    try:
        signature = keys.b58decode(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
    except ValueError:
        signature = b""
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    body = {k: v for k, v in document.items() if k != "proof"}
    try:
        trusted.verify(signature, bytes.fromhex(sha256_hex(canonical(options)) + sha256_hex(canonical(body))))
    except InvalidSignature:
        raise VerificationFailed(
            f"{what}: the signature does not match the content (changed after signing)"
        ) from None


def build(facts: CertificateFacts, key: Ed25519PrivateKey, now: float | None = None) -> dict:
    """A signed OpenBadgeCredential stating ``facts``."""
    issuer = keys.did_key(key.public_key())
    issued = facts.issued or now_iso(now)
    credential_id = facts.credential_id or f"urn:uuid:{uuid.uuid4()}"
    results = [
        {
            "type": ["Result"],
            "resultDescription": f"urn:sdnlab:skill:{skill}",
            "value": str(level),
            "name": facts.skill_names.get(skill, skill),
        }
        for skill, level in sorted(facts.skills.items())
    ]
    document = {
        "@context": CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer, "type": ["Profile"], "name": ISSUER_NAME},
        "validFrom": issued,
        "name": f"sdnlab exam: {facts.exam_title}",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": facts.trainee,
            "achievement": {
                "id": f"urn:sdnlab:exam:{facts.exam_id}",
                "type": ["Achievement"],
                "name": facts.exam_title,
                "description": (
                    f"Passed the sdnlab exam {facts.exam_id} (skill framework {facts.framework_version})."
                ),
                "criteria": {
                    "narrative": (
                        f"Score at least {facts.pass_percent:g}% on the graded exam tasks, "
                        "hidden checks included."
                    )
                },
            },
            "result": results,
            "sdnlab": {
                "exam": facts.exam_id,
                "attempt": facts.attempt_id,
                "seed": facts.seed,
                "score_percent": facts.score_percent,
                "pass_percent": facts.pass_percent,
                "framework_version": facts.framework_version,
                "skills": dict(sorted(facts.skills.items())),
                "reference_run": facts.reference_run,
            },
        },
        "evidence": [
            {
                "id": f"urn:sha256:{facts.manifest_sha256}",
                "type": ["Evidence"],
                "name": "sdnlab evidence bundle manifest",
                "sdnlab_bundle_sha256": facts.bundle_sha256,
            }
        ],
    }
    return _sign(document, key, issued)


def save(document: dict, path: Path) -> None:
    """Write a certificate in its one stored form."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(pretty(document), encoding="utf-8")


def facts_of(document: dict) -> CertificateFacts:
    """The facts a (verified) certificate states."""
    try:
        subject = document["credentialSubject"]
        own = subject["sdnlab"]
        evidence = document["evidence"][0]
        return CertificateFacts(
            trainee=str(subject["name"]),
            exam_id=str(own["exam"]),
            exam_title=str(subject["achievement"]["name"]),
            framework_version=str(own["framework_version"]),
            skills={str(k): int(v) for k, v in own["skills"].items()},
            score_percent=float(own["score_percent"]),
            pass_percent=float(own["pass_percent"]),
            issued=str(document["validFrom"]),
            attempt_id=str(own["attempt"]),
            seed=own.get("seed"),
            manifest_sha256=str(evidence["id"]).removeprefix("urn:sha256:"),
            bundle_sha256=str(evidence.get("sdnlab_bundle_sha256", "")),
            reference_run=bool(own.get("reference_run")),
            credential_id=str(document["id"]),
            issuer=str(document["issuer"]["id"]),
            skill_names={
                r["resultDescription"].removeprefix("urn:sdnlab:skill:"): r["name"] for r in subject["result"]
            },
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise VerificationFailed(f"certificate: missing or malformed field ({exc})") from None


def verify(
    path: Path,
    trusted: Ed25519PublicKey,
    evidence: Path | None = None,
    revocations: Path | None = None,
) -> CertificateFacts:
    """Verify a certificate file offline; its facts, or ``VerificationFailed`` with the reason."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CertificationError(f"{path}: cannot read the certificate ({exc.strerror})") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise VerificationFailed(f"{path}: not a JSON certificate ({exc})") from None
    if not isinstance(document, dict):
        raise VerificationFailed(f"{path}: not a JSON certificate object")
    _check_proof(document, trusted, str(path))
    if raw != pretty(document).encode():
        raise VerificationFailed(f"{path}: the file differs from its signed form (bytes were edited)")
    if "OpenBadgeCredential" not in document.get("type", []) or document.get("@context") != CONTEXT:
        raise VerificationFailed(f"{path}: not an Open Badges 3.0 credential")
    facts = facts_of(document)
    if facts.issuer != keys.did_key(trusted):
        raise VerificationFailed(f"{path}: issuer {facts.issuer} is not the trusted key")
    if revocations is not None:
        revoked = revoked_ids(revocations, trusted)
        if facts.credential_id in revoked:
            entry = revoked[facts.credential_id]
            raise VerificationFailed(f"{path}: revoked on {entry['date']}: {entry['reason']}")
    if evidence is not None:
        verify_bundle(evidence, facts.manifest_sha256, facts.bundle_sha256)
    return facts


# ---------------------------------------------------------------- revocation list


def revoked_ids(path: Path, trusted: Ed25519PublicKey) -> dict[str, dict]:
    """credential id -> {date, reason} from the issuer's signed revocation list."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationFailed(f"{path}: no revocation list") from None
    except (OSError, ValueError) as exc:
        raise VerificationFailed(f"{path}: unreadable revocation list ({exc})") from None
    if not isinstance(document, dict):
        raise VerificationFailed(f"{path}: not a revocation list")
    _check_proof(document, trusted, f"{path} (revocation list)")
    entries = document.get("revoked")
    if not isinstance(entries, list):
        raise VerificationFailed(f"{path}: revocation list without 'revoked'")
    return {str(e.get("id")): e for e in entries if isinstance(e, dict)}


def revoke(
    path: Path, credential_id: str, reason: str, key: Ed25519PrivateKey, now: float | None = None
) -> int:
    """Add ``credential_id`` to the signed revocation list at ``path`` (created if missing); the count."""
    path = Path(path)
    entries: list[dict] = []
    if path.exists():
        entries = list(revoked_ids(path, key.public_key()).values())
    if not any(e.get("id") == credential_id for e in entries):
        entries.append({"id": credential_id, "reason": reason, "date": now_iso(now)})
    document = {
        "type": "SdnlabRevocationList",
        "issuer": keys.did_key(key.public_key()),
        "updated": now_iso(now),
        "revoked": entries,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pretty(_sign(document, key, now_iso(now))), encoding="utf-8")
    return len(entries)
