"""Reading the TLS ClientHello inside a QUIC client Initial packet (RFC 9001, section 5).

Initial packets are encrypted with keys anyone can derive from the packet's destination
connection id and a per-version salt, so the ClientHello (and its SNI) can be read: derive the
keys with HKDF-SHA256, remove header protection (AES-ECB mask), decrypt the payload
(AES-128-GCM) and join the CRYPTO frames from offset 0. AES comes from the ``cryptography``
package; without it ``client_hello`` returns None and QUIC is still recognised, without SNI.
"""

from __future__ import annotations

import hashlib
import hmac

try:  # optional: only the SNI of IETF QUIC needs it
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover - depends on the environment
    AESGCM = None  # type: ignore[assignment,misc]  # checked before use: QUIC SNI needs cryptography

# Initial salts by version: v1 (RFC 9001) and draft-29.
SALTS = {
    0x00000001: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
    0xFF00001D: bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"),
}


def _hkdf_extract(salt: bytes, key_material: bytes) -> bytes:
    return hmac.new(salt, key_material, hashlib.sha256).digest()


def hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """TLS 1.3 HKDF-Expand-Label with an empty context."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def client_keys(version: int, dcid: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(key, iv, header-protection key) of the client's Initial packets, or None for an unknown version."""
    salt = SALTS.get(version)
    if salt is None:
        return None
    secret = hkdf_expand_label(_hkdf_extract(salt, dcid), b"client in", 32)
    return (
        hkdf_expand_label(secret, b"quic key", 16),
        hkdf_expand_label(secret, b"quic iv", 12),
        hkdf_expand_label(secret, b"quic hp", 16),
    )


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """A QUIC variable-length integer at ``pos``: (value, next position); IndexError past the end."""
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise IndexError("varint past the end")
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[pos + i]
    return value, pos + size


def client_hello(packet: bytes) -> bytes | None:
    """The ClientHello bytes (from its handshake header on) carried by a client Initial, or None."""
    if AESGCM is None or len(packet) < 7 or packet[0] & 0xF0 != 0xC0:  # long header, fixed bit, type Initial
        return None
    version = int.from_bytes(packet[1:5], "big")
    try:
        dcid_len = packet[5]
        dcid = packet[6 : 6 + dcid_len]
        pos = 6 + dcid_len
        pos += 1 + packet[pos]  # source connection id
        token_len, pos = varint(packet, pos)
        pos += token_len
        length, pn_offset = varint(packet, pos)
    except IndexError:
        return None
    keys = client_keys(version, dcid)
    if keys is None or pn_offset + 20 > len(packet) or pn_offset + length > len(packet):
        return None
    key, iv, hp = keys
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(packet[pn_offset + 4 : pn_offset + 20]) + encryptor.finalize()
    first = packet[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    header = bytearray(packet[: pn_offset + pn_len])
    header[0] = first
    for i in range(pn_len):
        header[pn_offset + i] ^= mask[1 + i]
    number = int.from_bytes(header[pn_offset:], "big")
    nonce = bytes(a ^ b for a, b in zip(iv, number.to_bytes(12, "big"), strict=False))
    try:
        plain = AESGCM(key).decrypt(
            nonce, bytes(packet[pn_offset + pn_len : pn_offset + length]), bytes(header)
        )
    except Exception:
        return None
    return _crypto_stream(plain)


def _crypto_stream(frames: bytes) -> bytes | None:
    """Join the CRYPTO frames of a decrypted Initial payload, contiguous from offset 0."""
    pieces: dict[int, bytes] = {}
    pos = 0
    try:
        while pos < len(frames):
            kind = frames[pos]
            if kind in (0x00, 0x01):  # PADDING, PING
                pos += 1
            elif kind in (0x02, 0x03):  # ACK (with ECN counts for 0x03)
                pos += 1
                _, pos = varint(frames, pos)
                _, pos = varint(frames, pos)
                count, pos = varint(frames, pos)
                _, pos = varint(frames, pos)
                for _ in range(2 * count + (3 if kind == 0x03 else 0)):
                    _, pos = varint(frames, pos)
            elif kind == 0x06:  # CRYPTO
                offset, pos = varint(frames, pos + 1)
                size, pos = varint(frames, pos)
                pieces[offset] = frames[pos : pos + size]
                pos += size
            else:
                break
    except IndexError:
        pass
    stream, at = b"", 0
    while pieces.get(at):
        piece = pieces.pop(at)
        stream += piece
        at += len(piece)
    return stream or None
