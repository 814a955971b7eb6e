"""The classroom server image (``tools/image/build.sh --server``) prints certificates to PDF.

On Kubernetes the server runs in this image; without a Chromium in it, ``GET
/api/me/certificates/{id}/pdf`` answers 503. Here the image runs the way the Deployment runs it:
uid 65534, read-only root file system, every capability dropped, no privilege escalation, a
writable /tmp only (the Deployment's emptyDir). No cluster, so the server uses the ``workspace``
backend (flow files graded statically) instead of ``kubernetes``; the printing is the same code.
The instructor data (reference solutions, hidden checks) is not in any image: as on Kubernetes,
it is packed the way docs/scale-out.md tells the operator to (one archive, the Secret's only key),
unpacked by the Deployment's own ``instructor-data`` init container command into a volume, which
the server mounts read-only and finds by ``SDNLAB_INSTRUCTOR_DIR``.
Over its HTTP API: an instructor schedules the short exam, a trainee starts it, the instructor
deploys the reference solution, the trainee submits and downloads her certificate in English and
Japanese, which the Chromium inside the container prints with the image's Japanese font.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pdfcheck
import pytest
import yaml

from .conftest import REPO, RUNC

pytestmark = pytest.mark.slow
EXAM = "quick_openflow"
USERS = {"ivy": ("instructor", "c1"), "ann": ("trainee", "c1")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AS_ON_KUBERNETES = [*RUNC, "--read-only", "--tmpfs", "/tmp:rw,mode=1777,size=256m", "--user", "65534:65534",
                    "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]  # fmt: skip


def unpack_instructor_data(server_image: str, secret_dir: Path, volume: Path) -> None:
    """Run the Deployment's ``instructor-data`` init container: the Secret's folder -> the volume."""
    manifest = yaml.safe_load((REPO / "deploy/kubernetes/base/server-deployment.yaml").read_text())
    [init] = [
        c for c in manifest["spec"]["template"]["spec"]["initContainers"] if c["name"] == "instructor-data"
    ]
    volume.chmod(0o777)  # an emptyDir the pod's user may write
    done = subprocess.run(
        ["podman", "run", "--rm", *AS_ON_KUBERNETES, "--network", "none",
         "-v", f"{secret_dir}:/run/secrets/instructor:ro", "-v", f"{volume}:/srv/instructor",
         server_image, *init["command"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture
def instructor_volume(server_image, tmp_path) -> Path:
    """The repo's instructor data as the server pod's volume holds it."""
    secret = tmp_path / "secret"
    secret.mkdir()
    packed = subprocess.run(  # docs/scale-out.md: tar czf instructor.tar.gz -C instructor .
        ["tar", "czf", str(secret / "instructor.tar.gz"), "-C", str(REPO / "instructor"), "."],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert packed.returncode == 0, packed.stderr
    volume = tmp_path / "volume"
    volume.mkdir()
    unpack_instructor_data(server_image, secret, volume)
    return volume


def test_without_the_instructor_secret_the_instructor_folder_is_empty(server_image, tmp_path):
    (tmp_path / "secret").mkdir()  # optional: true and no Secret: an empty folder
    (tmp_path / "volume").mkdir()
    unpack_instructor_data(server_image, tmp_path / "secret", tmp_path / "volume")
    assert not list((tmp_path / "volume" / "data").iterdir())  # the server finds no instructor data


@pytest.fixture
def server(server_image, instructor_volume):
    """The server image running as on Kubernetes, on 127.0.0.1 (host network); its base URL."""
    assert (instructor_volume / "data" / "labs" / "l2_learning" / "solution").is_dir()
    name, port = "sdnlab-srvtest-" + secrets.token_hex(3), _free_port()
    accounts = " && ".join(
        f"echo password-of-{u} | sdnlab users add {u} --role {role} --class {group} --state /tmp/sdnlab"
        for u, (role, group) in USERS.items()
    )
    serve = f"exec sdnlab serve --backend workspace --host 127.0.0.1 --port {port} --state /tmp/sdnlab"
    subprocess.run(
        ["podman", "run", "-d", "--name", name, *AS_ON_KUBERNETES, "--network", "host",
         "-v", f"{instructor_volume}:/srv/instructor:ro", "-e", "SDNLAB_INSTRUCTOR_DIR=/srv/instructor/data",
         server_image, "/bin/sh", "-c", f"{accounts} && {serve}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            log = subprocess.run(["podman", "logs", name], capture_output=True, text=True, timeout=30)
            said = (log.stdout + log.stderr)[-2000:]
            pytest.fail(f"the server in the image did not answer /healthz: {said}")
        yield base
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)


def login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    answer = client.post("/api/login", json={"username": name, "password": f"password-of-{name}"})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def test_the_server_image_prints_a_certificate_to_pdf_in_english_and_japanese(server):
    if not (shutil.which("pdftotext") and shutil.which("pdffonts")):
        pytest.skip("poppler-utils is not installed (tools/setup.sh installs it)")
    ivy, ann = login(server, "ivy"), login(server, "ann")
    now = time.time()
    body = {"exam": EXAM, "class": "c1", "opens_at": now - 60, "closes_at": now + 3600}
    made = ivy.post("/api/exams/scheduled", json=body)
    assert made.status_code == 200, made.text
    attempt = ann.post(f"/api/exams/{made.json()['id']}/start").json()["attempt"]
    assert ivy.post(f"/api/exams/attempts/{attempt}/solve").status_code == 200
    assert ann.post("/api/exam/submit").json()["result"]["certificate"]

    english = ann.get(f"/api/me/certificates/{attempt}/pdf?lang=en")
    assert english.status_code == 200, english.text
    assert english.headers["content-type"] == "application/pdf" and english.content.startswith(b"%PDF-")
    assert "ann" in pdfcheck.text(english.content).split()
    japanese = ann.get(f"/api/me/certificates/{attempt}/pdf?lang=ja")
    assert japanese.status_code == 200, japanese.text
    assert "技能認定証" in "".join(pdfcheck.text(japanese.content).split())
    fonts = pdfcheck.fonts(japanese.content)
    assert [f for f in fonts if f.embedded and f.name.endswith("+IPAexGothic")], fonts  # the image's font
