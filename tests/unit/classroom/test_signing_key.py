"""The server's certificate signing key, read from a file such as the Secret deploy/kubernetes mounts.

Keys are made by openssl (not by the code under test); the file is laid out the way the kubelet
mounts a Secret (``signing-key -> ..data/signing-key``, mode 0440 for the pod's fsGroup).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from sdnlab.certification import credential, keys
from sdnlab.certification.errors import CertificationError, VerificationFailed

REPO = Path(__file__).resolve().parents[3]


def secret_mount(folder: Path, mode: int = 0o440) -> tuple[Path, Path]:
    """An Ed25519 key pair by openssl, the private half mounted like a Kubernetes Secret; (key, public)."""
    data = folder / "..2026_12_05_00_00_00.000000001"
    data.mkdir(parents=True)
    key = data / "signing-key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    public = folder / "issuer.pub.pem"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(public)], check=True)
    os.chmod(key, mode)
    (folder / "..data").symlink_to(data.name)
    (folder / "signing-key").symlink_to("..data/signing-key")
    return folder / "signing-key", public


FACTS = credential.CertificateFacts(
    trainee="ann",
    exam_id="sdn-foundations",
    exam_title="SDN foundations",
    framework_version="1",
    skills={"openflow.flows": 2},
    score_percent=100.0,
    pass_percent=70.0,
    issued="2026-12-05T00:00:00Z",
    attempt_id="a1",
    seed=7,
    manifest_sha256="0" * 64,
    bundle_sha256="0" * 64,
)


def test_a_key_from_a_mounted_secret_signs_certificates_that_verify_with_its_public_key(factory, tmp_path):
    from sdnlab.classroom.app import Settings, create_app
    from sdnlab.classroom.runner import LocalRunner

    key_file, public = secret_mount(tmp_path / "secrets")
    backend = LocalRunner(tmp_path / "sandboxes", network=False)
    room = create_app(factory, backend, Settings(key_file=str(key_file))).state.room
    document = credential.build(FACTS, room.signing_key)
    certificate = tmp_path / "certificate.json"
    certificate.write_text(credential.pretty(document))
    facts = credential.verify(certificate, keys.load_public(public))
    assert facts.trainee == "ann" and facts.issuer == keys.did_key(keys.load_public(public))
    _other, other_public = secret_mount(tmp_path / "other")
    with pytest.raises(VerificationFailed, match="signed by another key"):
        credential.verify(certificate, keys.load_public(other_public))


@pytest.mark.parametrize(
    ("mode", "content", "problem"),
    [
        (0o444, None, "open to other users"),
        (0o460, None, "open to other users"),
        (0o440, "dev-only-signing-key-replace-me\n", "not a PEM private key"),
    ],
)
def test_a_key_file_others_can_read_or_that_is_no_key_is_refused_with_its_name(
    tmp_path, mode, content, problem
):
    key_file, _public = secret_mount(tmp_path / "secrets", mode)
    if content is not None:
        os.chmod(key_file, 0o640)
        key_file.resolve().write_text(content)
        os.chmod(key_file, mode)
    with pytest.raises(CertificationError, match=problem) as error:
        keys.load_file(key_file)
    assert str(key_file) in str(error.value)


def test_the_deployment_points_the_server_at_the_mounted_secret():
    deployment = yaml.safe_load((REPO / "deploy/kubernetes/base/server-deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    [server] = [c for c in pod["containers"] if c["name"] == "server"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    mounts = {m["name"]: m["mountPath"] for m in server["volumeMounts"]}
    volume = next(v for v in pod["volumes"] if v["name"] == "secrets")
    assert env["SDNLAB_SIGNING_KEY_FILE"] == f"{mounts['secrets']}/signing-key"
    assert volume["secret"]["defaultMode"] == 0o440 and pod["securityContext"]["fsGroup"] > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="sdnlab serve drops root to nobody; this runs it as root")
def test_sdnlab_serve_reads_the_key_named_by_the_environment_before_it_drops_root():
    folder = Path(tempfile.mkdtemp(prefix="sdnlab-key-"))
    os.chmod(folder, 0o755)
    try:
        key_file, public = secret_mount(folder / "secrets", 0o400)  # root's only: read before dropping root
        env = {**os.environ, "SDNLAB_SIGNING_KEY_FILE": str(key_file)}
        command = [sys.executable, "-m", "sdnlab.cli", "serve", "--backend", "workspace",
                   "--state", str(folder / "state"), "--port", "0"]  # fmt: skip
        with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
            try:
                deadline, line = time.monotonic() + 60, ""
                while "classroom:" not in line and time.monotonic() < deadline and server.poll() is None:
                    line = server.stderr.readline()
            finally:
                server.terminate()
        assert f"issuer {keys.did_key(keys.load_public(public))}" in line, line
        os.chmod(key_file, 0o444)
        bad = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0 and "open to other users" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)
