"""The SNI of IETF QUIC is read from the client's Initial packet, with keys derived as RFC 9001 says."""

from __future__ import annotations

import struct

import pytest

from sdnlab.vnfs.dpi.protocols.quic_initial import AESGCM, client_keys

pytestmark = pytest.mark.skipif(AESGCM is None, reason="the cryptography package is not installed")


def test_initial_keys_match_rfc9001_appendix_a():
    key, iv, hp = client_keys(1, bytes.fromhex("8394c8f03e515708"))
    assert key.hex() == "1f369613dd76d5467730efcbe3b1a22d"
    assert iv.hex() == "fa044b2f42a3fd3b46fb255c"
    assert hp.hex() == "9f50449e04a0e810283a1e9933adedd2"


def _client_hello(sni: bytes) -> bytes:
    sni_ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    alpn = struct.pack("!HHH", 16, 5, 3) + b"\x02h3"
    extensions = sni_ext + alpn
    body = (
        b"\x03\x03"
        + b"\x07" * 32
        + b"\x00"
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _protected_initial(hello: bytes, dcid: bytes) -> bytes:
    """A client Initial carrying ``hello`` in two CRYPTO frames, out of order, padded to 1200 bytes."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    half = len(hello) // 2
    frames = (
        b"\x06"
        + bytes([0x40 | (half >> 8), half & 0xFF])
        + bytes([0x40 | ((len(hello) - half) >> 8), (len(hello) - half) & 0xFF])
        + hello[half:]
        + b"\x06\x00"
        + bytes([0x40 | (half >> 8), half & 0xFF])
        + hello[:half]
    )
    pn_len = 2
    header_len = 1 + 4 + 1 + len(dcid) + 1 + 1 + 2 + pn_len
    frames += b"\x00" * max(0, 1200 - header_len - len(frames) - 16)  # PADDING frames
    length = pn_len + len(frames) + 16
    header = (
        bytes([0xC0 | (pn_len - 1)])
        + b"\x00\x00\x00\x01"
        + bytes([len(dcid)])
        + dcid
        + b"\x00"
        + b"\x00"
        + bytes([0x40 | (length >> 8), length & 0xFF])
        + b"\x00\x02"
    )
    key, iv, hp = client_keys(1, dcid)
    nonce = bytes(a ^ b for a, b in zip(iv, (2).to_bytes(12, "big"), strict=False))
    sealed = AESGCM(key).encrypt(nonce, frames, header)
    pn_offset = len(header) - pn_len
    sample = sealed[4 - pn_len : 4 - pn_len + 16]
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        protected[pn_offset + i] ^= mask[1 + i]
    return bytes(protected) + sealed


def test_sni_and_alpn_come_out_of_an_encrypted_initial():
    from sdnlab.vnfs.dpi import DpiConfig, DpiEngine, Limits
    from sdnlab.vnfs.dpi.synth import udp_exchange

    packet = _protected_initial(_client_hello(b"video.example.org"), bytes.fromhex("8394c8f03e515708"))
    assert len(packet) >= 1200
    engine = DpiEngine(DpiConfig(limits=Limits(port_guess=False)))
    (frame,) = udp_exchange("10.0.0.1", "10.0.0.2", 50000, 40443, [("c", packet)])
    record = engine.process_frame(0.0, frame)
    assert record.app == "QUIC"
    assert record.metadata == {"version": "v1", "sni": "video.example.org", "alpn": ["h3"]}


def test_a_tampered_initial_is_still_quic_but_without_sni():
    from sdnlab.vnfs.dpi.protocols.quic_initial import client_hello

    packet = bytearray(_protected_initial(_client_hello(b"x.example"), b"\x01\x02\x03\x04\x05\x06\x07\x08"))
    packet[-1] ^= 0xFF
    assert client_hello(bytes(packet)) is None
