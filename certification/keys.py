"""The issuer's Ed25519 key pair: generated at first use, the private half readable by its owner only.

``$SDNLAB_CERT_KEYS`` (default ``/var/lib/sdnlab/keys``) holds ``issuer.key`` (PKCS#8 PEM, mode
0600, folder 0700) and ``issuer.pub.pem`` (the public key to hand to verifiers). A key file that
anyone but its owner can read is refused rather than used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sdnlab.certification.errors import CertificationError
from sdnlab.certification.paths import keys_dir

PRIVATE = "issuer.key"
PUBLIC = "issuer.pub.pem"
MULTICODEC_ED25519 = b"\xed\x01"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    """Bitcoin base58 (the ``z`` multibase of did:key and Data Integrity proofs)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    """Inverse of ``b58encode``; ValueError on a character outside the alphabet."""
    number = 0
    for char in text:
        index = B58.find(char)
        if index < 0:
            raise ValueError(f"not base58: {char!r}")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def did_key(key: Ed25519PublicKey) -> str:
    """The ``did:key`` identifier of a public key (self-describing issuer id)."""
    return "did:key:z" + b58encode(MULTICODEC_ED25519 + raw_public(key))


def public_from_did(did: str) -> Ed25519PublicKey:
    """The public key a ``did:key:z6Mk...`` names; ValueError if it is not an Ed25519 did:key."""
    if not did.startswith("did:key:z"):
        raise ValueError(f"not a did:key: {did!r}")
    data = b58decode(did[len("did:key:z") :].split("#", 1)[0])
    if not data.startswith(MULTICODEC_ED25519) or len(data) != 34:
        raise ValueError("not an Ed25519 did:key")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def _check_private_mode(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CertificationError(
            f"{path}: the issuer key is readable by others (mode {oct(mode & 0o777)}); chmod 600 it"
        )


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a PEM private key without a password"
        raise CertificationError(f"{path}: cannot load the issuer key ({reason})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificationError(f"{path}: not an Ed25519 key")
    return key


def load_file(path: Path) -> Ed25519PrivateKey:
    """The issuer's private key from a given PEM file, such as a Kubernetes Secret mounted read-only.

    A Secret volume gives the file to the pod's group (``defaultMode: 0440`` with ``fsGroup``),
    so group read is accepted here; a key that other users can read or anyone but its owner
    can write is refused.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CertificationError(f"{path}: cannot read the issuer key ({exc.strerror})") from None
    if mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise CertificationError(
            f"{path}: the issuer key is open to other users (mode {oct(mode & 0o777)}); chmod 400 or 440 it"
        )
    return _load_private(path)


def load_or_create(directory: Path | None = None) -> Ed25519PrivateKey:
    """The issuer's private key, generated (0600, in a 0700 folder) on first use."""
    directory = Path(directory) if directory else keys_dir()
    path = directory / PRIVATE
    if path.exists():
        _check_private_mode(path)
        return _load_private(path)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        write_public(key.public_key(), directory / PUBLIC)
    except PermissionError as exc:
        raise CertificationError(
            f"{directory}: cannot create the issuer key ({exc.strerror}); "
            "run as the instructor or set SDNLAB_CERT_KEYS"
        ) from None
    return key


def write_public(key: Ed25519PublicKey, path: Path) -> None:
    """Write a public key as PEM (world-readable: verifiers need it)."""
    path.write_bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    os.chmod(path, 0o644)


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file, or from a file holding a ``did:key``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CertificationError(f"{path}: cannot read the public key ({exc.strerror})") from None
    text = data.decode("utf-8", "replace").strip()
    try:
        if text.startswith("did:key:"):
            return public_from_did(text)
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise CertificationError(f"{path}: not a public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CertificationError(f"{path}: not an Ed25519 public key")
    return key


def default_public() -> Path:
    """Where the local issuer's public key is published."""
    return keys_dir() / PUBLIC
