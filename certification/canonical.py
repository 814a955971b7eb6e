"""Canonical JSON (RFC 8785 JCS for the values sdnlab emits) and SHA-256 helpers."""

from __future__ import annotations

import hashlib
import json


def canonical(data) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed and signed."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pretty(data) -> str:
    """The stored form of a document: sorted keys, two-space indent, a final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
