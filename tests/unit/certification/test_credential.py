"""Certificates verify offline and fail with a reason on any change: field, byte, key, revocation,
evidence."""

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sdnlab.certification import bundle, credential, keys
from sdnlab.certification.canonical import pretty
from sdnlab.certification.errors import CertificationError, VerificationFailed


def _facts(info):
    return credential.CertificateFacts(
        trainee="Hanako Yamada",
        exam_id="quick_openflow",
        exam_title="Quick OpenFlow",
        framework_version="1.0",
        skills={"openflow.match_action": 2, "security.access_control": 1},
        score_percent=87.5,
        pass_percent=70.0,
        issued="2026-12-04T10:00:00Z",
        attempt_id="a1",
        seed=42,
        manifest_sha256=info.manifest_sha256,
        bundle_sha256=info.bundle_sha256,
        skill_names={"openflow.match_action": "Match/action", "security.access_control": "ACL"},
    )


@pytest.fixture
def issued(tmp_path):
    key = keys.load_or_create(tmp_path / "keys")
    info = bundle.write_bundle(
        tmp_path / "evidence.zip",
        {"flows/s1.txt": b"priority=10,ip actions=output:2\n", "report.json": b'{"percent": 87.5}'},
        {"seed": 42, "started": "2026-12-04T09:40:00Z"},
    )
    document = credential.build(_facts(info), key)
    path = tmp_path / "cert.json"
    credential.save(document, path)
    return key, path, tmp_path / "evidence.zip", document


def test_a_fresh_certificate_verifies_with_its_facts(issued):
    key, path, evidence, _ = issued
    facts = credential.verify(path, key.public_key(), evidence)
    assert facts.trainee == "Hanako Yamada" and facts.score_percent == 87.5 and facts.seed == 42
    assert facts.skills == {"openflow.match_action": 2, "security.access_control": 1}
    assert facts.issuer == keys.did_key(key.public_key())


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path, node


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return 0
    return value + "x"


def test_changing_any_field_fails_verification(issued):
    key, path, evidence, document = issued
    leaves = list(_leaves(document))
    assert len(leaves) > 40
    for where, value in leaves:
        copy = json.loads(json.dumps(document))
        node = copy
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = _changed(value)
        path.write_text(pretty(copy))
        with pytest.raises(VerificationFailed):
            credential.verify(path, key.public_key(), evidence)


def test_dropping_or_adding_a_field_fails(issued):
    key, path, _, document = issued
    for top in [k for k in document if k != "proof"]:
        copy = {k: v for k, v in document.items() if k != top}
        path.write_text(pretty(copy))
        with pytest.raises(VerificationFailed):
            credential.verify(path, key.public_key())
    path.write_text(pretty({**document, "extra": 1}))
    with pytest.raises(VerificationFailed, match="signature does not match"):
        credential.verify(path, key.public_key())


def test_changing_any_byte_of_the_file_fails(issued):
    key, path, _, _ = issued
    original = path.read_bytes()
    for i in range(len(original)):
        changed = bytearray(original)
        changed[i] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises((VerificationFailed, CertificationError)):
            credential.verify(path, key.public_key())
    path.write_bytes(original + b" ")
    with pytest.raises(VerificationFailed, match="bytes were edited"):
        credential.verify(path, key.public_key())


def test_another_key_is_refused(issued):
    _, path, _, _ = issued
    with pytest.raises(VerificationFailed, match="signed by another key"):
        credential.verify(path, Ed25519PrivateKey.generate().public_key())


def test_a_certificate_re_signed_by_another_key_is_refused(issued):
    key, path, _, document = issued
    forged = credential._sign(
        {k: v for k, v in document.items() if k != "proof"},
        Ed25519PrivateKey.generate(),
        "2026-12-04T10:00:00Z",
    )
    path.write_text(pretty(forged))
    with pytest.raises(VerificationFailed, match="another key"):
        credential.verify(path, key.public_key())


def test_revoked_certificates_fail_and_forged_lists_are_refused(issued, tmp_path):
    key, path, _, document = issued
    revocations = tmp_path / "revocations.json"
    credential.revoke(revocations, "urn:uuid:someone-else", "test", key)
    assert credential.verify(path, key.public_key(), revocations=revocations)
    credential.revoke(revocations, document["id"], "copied answers", key)
    with pytest.raises(VerificationFailed, match=r"revoked .*copied answers"):
        credential.verify(path, key.public_key(), revocations=revocations)
    data = json.loads(revocations.read_text())
    data["revoked"] = []
    revocations.write_text(pretty(data))
    with pytest.raises(VerificationFailed, match="revocation list"):
        credential.verify(path, key.public_key(), revocations=revocations)


def test_changed_evidence_fails(issued, tmp_path):
    key, path, evidence, _ = issued
    original = evidence.read_bytes()
    for i in range(0, len(original), 3):
        changed = bytearray(original)
        changed[i] ^= 0x20
        evidence.write_bytes(bytes(changed))
        with pytest.raises(VerificationFailed):
            credential.verify(path, key.public_key(), evidence)
    other = bundle.write_bundle(tmp_path / "other.zip", {"report.json": b'{"percent": 100}'}, {"seed": 42})
    with pytest.raises(VerificationFailed, match="evidence"):
        credential.verify(path, key.public_key(), other.path)


def test_bundle_detects_a_changed_file_even_with_a_matching_outer_hash(tmp_path):
    info = bundle.write_bundle(tmp_path / "b.zip", {"a.txt": b"one"}, {"seed": 1})
    bundle.verify_bundle(info.path, info.manifest_sha256, info.bundle_sha256)
    forged = bundle.write_bundle(tmp_path / "c.zip", {"a.txt": b"two"}, {"seed": 1})
    with pytest.raises(VerificationFailed, match="manifest"):
        bundle.verify_bundle(forged.path, info.manifest_sha256)


def test_keys_are_private_and_reused(tmp_path):
    folder = tmp_path / "keys"
    key = keys.load_or_create(folder)
    assert stat.S_IMODE(os.stat(folder / keys.PRIVATE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert keys.raw_public(keys.load_or_create(folder).public_key()) == keys.raw_public(key.public_key())
    assert keys.raw_public(keys.load_public(folder / keys.PUBLIC)) == keys.raw_public(key.public_key())
    os.chmod(folder / keys.PRIVATE, 0o644)
    with pytest.raises(CertificationError, match="readable by others"):
        keys.load_or_create(folder)


def test_did_key_round_trips():
    key = Ed25519PrivateKey.generate().public_key()
    did = keys.did_key(key)
    assert did.startswith("did:key:z6Mk")
    assert keys.raw_public(keys.public_from_did(did)) == keys.raw_public(key)
