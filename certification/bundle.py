"""Evidence bundles: every file of an exam attempt hashed, the manifest hashed, all in one zip.

The zip holds ``manifest.json`` and the files it lists. The manifest names each file's SHA-256
and size plus the attempt's facts (seed, variables, timestamps); the certificate carries the
SHA-256 of the manifest's canonical JSON and of the whole zip, so changing any byte of the
bundle, adding or dropping a file is detected. Zip entries get a fixed date so equal content
gives an equal bundle.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sdnlab.certification.canonical import canonical, pretty, sha256_hex
from sdnlab.certification.errors import CertificationError, VerificationFailed

FORMAT = "sdnlab-evidence/1"
MANIFEST = "manifest.json"
FIXED_DATE = (2020, 1, 1, 0, 0, 0)
MAX_FILE = 20 * 1024 * 1024


@dataclass(frozen=True)
class BundleInfo:
    """Hashes of a written bundle (the certificate names them)."""

    path: Path
    manifest_sha256: str
    bundle_sha256: str
    files: int


def manifest_for(files: dict[str, bytes], facts: dict) -> dict:
    """The manifest of ``files`` (archive path -> bytes) with the attempt's ``facts``."""
    for name in files:
        if name == MANIFEST or name.startswith("/") or ".." in Path(name).parts:
            raise CertificationError(f"evidence file name {name!r} is not allowed")
    return {
        "format": FORMAT,
        "facts": facts,
        "files": [{"path": n, "sha256": sha256_hex(files[n]), "size": len(files[n])} for n in sorted(files)],
    }


def write_bundle(path: Path, files: dict[str, bytes], facts: dict) -> BundleInfo:
    """Write the zip bundle and return its hashes."""
    manifest = manifest_for(files, facts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(MANIFEST, pretty(manifest).encode()), *sorted(files.items())]:
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return BundleInfo(path, sha256_hex(canonical(manifest)), sha256_hex(data), len(files))


def read_manifest(path: Path) -> dict:
    """The manifest of a bundle (no checks beyond its being there)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(MANIFEST))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise VerificationFailed(f"{path}: not an evidence bundle ({exc})") from None


def verify_bundle(path: Path, manifest_sha256: str, bundle_sha256: str | None = None) -> dict:
    """Check a bundle against a certificate's hashes; returns the manifest, raises ``VerificationFailed``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise VerificationFailed(f"{path}: cannot read the evidence bundle ({exc.strerror})") from None
    if bundle_sha256 is not None and sha256_hex(data) != bundle_sha256:
        raise VerificationFailed(
            f"{path}: the evidence bundle was changed (its SHA-256 differs from the certificate's)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(archive.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise VerificationFailed(f"{path}: not an evidence bundle ({exc})") from None
    if sha256_hex(canonical(manifest)) != manifest_sha256:
        raise VerificationFailed(
            f"{path}: the evidence manifest was changed (hash differs from the certificate's)"
        )
    listed = {f["path"]: f for f in manifest.get("files", [])}
    present = set(archive.namelist()) - {MANIFEST}
    if present != set(listed):
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        raise VerificationFailed(f"{path}: files added {extra} or missing {missing} against the manifest")
    for name, entry in listed.items():
        try:
            content = archive.read(name)
        except (zipfile.BadZipFile, OSError) as exc:
            raise VerificationFailed(f"{path}: {name}: unreadable ({exc})") from None
        if sha256_hex(content) != entry.get("sha256") or len(content) != entry.get("size"):
            raise VerificationFailed(f"{path}: {name}: content changed (SHA-256 differs from the manifest)")
    return manifest
