"""Fast packet header parsing and rewriting for the VNF hot path (no scapy).

``parse(frame)`` decodes Ethernet (with 802.1Q/802.1ad tags, PPPoE sessions and MPLS label
stacks), IPv4 (with fragments), IPv6 (with extension headers and fragments), TCP, UDP, SCTP, ICMP
and ICMPv6 into a ``Packet``, using
``struct`` on the frame's bytes. Linux cooked captures (SLL, SLL2) and raw IP frames are parsed
too when their pcap link type is given.

Vocabulary and representation (one rule for every field):

- Addresses are integers: ``ip_src``/``ip_dst`` are 32-bit (IPv4) or 128-bit (IPv6) ``int``;
  ``ip_version`` says which. ``ip_text(value, version)`` and ``Packet.ip_src_text`` render them.
  MAC addresses are 6-byte ``bytes`` (``mac_text`` renders them); empty for raw IP frames.
- Absent things are zero or ``None``: ``ip_version == 0`` for non-IP frames (ARP...), ports are 0
  when the protocol has none or the frame is a non-first fragment, ``icmp_type``/``icmp_code``
  and ``vlan`` are ``None`` when absent, ``l4_offset`` is -1 when no L4 header was parsed.
- ``payload`` is the L4 payload (or the IP payload when L4 was not parsed), a ``memoryview``
  over the frame that stops at the IP datagram's end, so Ethernet padding is never payload.

Error policy: a frame whose headers are cut short or inconsistent (bad IHL, TCP data offset past
the captured bytes, ...) raises ``PacketError``, and nothing else, whatever the bytes are. A frame
whose *payload* is shorter than the IP length says (a snaplen-truncated capture) parses, with
``truncated`` set and the payload clipped to what was captured.

``rewrite`` changes MAC/IP/port/TTL fields and fixes the IPv4 header checksum and the L4 checksum
incrementally (RFC 1624); ``build_frame`` crafts test and benchmark frames with valid checksums.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

from sdnlab.errors import VnfError

# pcap link types understood by ``parse`` (values from the tcpdump.org link-type registry).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETH_TYPE_IPV4 = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_IPV6 = 0x86DD
ETH_TYPE_VLAN = 0x8100
ETH_TYPE_PPPOE_SESSION = 0x8864
ETH_TYPE_MPLS = 0x8847
ETH_TYPE_MPLS_MULTICAST = 0x8848
_MAX_MPLS_LABELS = 8
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))

IPPROTO_ICMP = 1
IPPROTO_IPIP = 4
IPPROTO_IPV6_IN_IP = 41
IPPROTO_GRE = 47
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132

# TCP flag bits as they appear in ``Packet.tcp_flags``.
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20
TCP_ECE = 0x40
TCP_CWR = 0x80

# IPv6 extension headers that are skipped to reach the upper-layer protocol.
_IPV6_EXT = frozenset((0, 43, 44, 51, 60, 135, 139, 140))
_MAX_IPV6_EXT = 8  # bound on the extension-header walk (fuzzed chains must not loop long)

_IPV4 = struct.Struct("!BBHHHBBHII")
_IPV6 = struct.Struct("!IHBB")
_TCP = struct.Struct("!HHIIBB")
_PORTS = struct.Struct("!HH")
_H = struct.Struct("!H")
# The fast path's one read: MACs, EtherType, an IPv4 header without options (TOS, ident and
# checksum skipped), then the first 14 bytes of L4: TCP ports, seq, ack, data offset and flags;
# for UDP the same bytes are ports, length, checksum and the first payload bytes.
_ETH_IPV4_L4 = struct.Struct("!6s6sHBxHxxHBBxxIIHHIIBB")
_FAST_MIN = _ETH_IPV4_L4.size  # 48 bytes: 14 Ethernet + 20 IPv4 + 14 L4
_FAST_PROTOS = (6, 17)  # TCP, UDP


class PacketError(VnfError):
    """A frame's headers are truncated or inconsistent; the message says which header and why."""


def ip_text(value: int, version: int) -> str:
    """Render an integer IP address of the given version (4 or 6) as text."""
    if version == 6:
        return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
    return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))


def ip_value(text: str) -> tuple[int, int]:
    """Parse an IPv4 or IPv6 address text into ``(int value, version)``."""
    try:
        if ":" in text:
            return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"), 6
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), 4
    except (
        OSError,
        UnicodeError,
        ValueError,
    ):  # ValueError: an embedded NUL; UnicodeError: undecodable argv bytes
        raise PacketError(f"not an IP address: {text!r}") from None


def mac_text(mac: bytes) -> str:
    """Render a 6-byte MAC address as ``aa:bb:cc:dd:ee:ff``."""
    return mac.hex(":")


def mac_bytes(text: str) -> bytes:
    """Parse ``aa:bb:cc:dd:ee:ff`` (or ``-`` separated) into 6 bytes."""
    try:
        raw = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise PacketError(f"not a MAC address: {text!r}")
    return raw


class FlowKey(NamedTuple):
    """A directional 5-tuple; addresses are ints as in ``Packet``."""

    ip_proto: int
    ip_src: int
    l4_src: int
    ip_dst: int
    l4_dst: int

    def reversed(self) -> FlowKey:
        """The key of the opposite direction."""
        return FlowKey(self.ip_proto, self.ip_dst, self.l4_dst, self.ip_src, self.l4_src)

    def canonical(self) -> FlowKey:
        """The direction-independent form: the lower (address, port) end first."""
        if (self.ip_src, self.l4_src) <= (self.ip_dst, self.l4_dst):
            return self
        return FlowKey(self.ip_proto, self.ip_dst, self.l4_dst, self.ip_src, self.l4_src)


class Packet(NamedTuple):
    """One parsed frame. Immutable; see the module docstring for the field conventions."""

    frame: bytes
    eth_dst: bytes
    eth_src: bytes
    vlan: int | None  # VLAN id of the outermost tag
    eth_type: int  # the network-layer type after VLAN tags, PPPoE and MPLS (0x0800/0x86DD for IP)
    l3_offset: int
    ip_version: int  # 0 (not IP), 4 or 6
    ip_src: int
    ip_dst: int
    ip_proto: int  # upper-layer protocol (after IPv6 extension headers)
    ttl: int  # IPv4 TTL or IPv6 hop limit
    ip_len: int  # IP datagram length from the header (IPv6: 40 + payload length)
    is_fragment: bool  # any IP fragment, first or not
    frag_offset: int  # fragment offset in bytes (0 for the first fragment)
    l4_offset: int  # -1 when no L4 header was parsed
    l4_src: int
    l4_dst: int
    tcp_flags: int
    tcp_seq: int
    tcp_ack: int
    icmp_type: int | None
    icmp_code: int | None
    payload_offset: int
    payload_end: int
    truncated: bool  # fewer bytes captured than the IP length says

    @property
    def payload(self) -> memoryview:
        """The L4 payload (IP payload when L4 was not parsed), without Ethernet padding."""
        return memoryview(self.frame)[self.payload_offset : self.payload_end]

    @property
    def payload_len(self) -> int:
        """Length of ``payload`` in bytes."""
        return self.payload_end - self.payload_offset

    @property
    def ip_src_text(self) -> str:
        """Source address as text ('' for non-IP frames)."""
        return ip_text(self.ip_src, self.ip_version) if self.ip_version else ""

    @property
    def ip_dst_text(self) -> str:
        """Destination address as text ('' for non-IP frames)."""
        return ip_text(self.ip_dst, self.ip_version) if self.ip_version else ""

    @property
    def eth_src_text(self) -> str:
        """Source MAC as text."""
        return mac_text(self.eth_src)

    @property
    def eth_dst_text(self) -> str:
        """Destination MAC as text."""
        return mac_text(self.eth_dst)

    def flow_key(self) -> FlowKey:
        """The directional 5-tuple (ports 0 when there are none)."""
        return FlowKey(self.ip_proto, self.ip_src, self.l4_src, self.ip_dst, self.l4_dst)

    def bidi_key(self) -> FlowKey:
        """The 5-tuple with the lower (address, port) end first: equal for both directions."""
        if (self.ip_src, self.l4_src) <= (self.ip_dst, self.l4_dst):
            return FlowKey(self.ip_proto, self.ip_src, self.l4_src, self.ip_dst, self.l4_dst)
        return FlowKey(self.ip_proto, self.ip_dst, self.l4_dst, self.ip_src, self.l4_src)


_new_packet = tuple.__new__  # builds a Packet from a ready tuple without NamedTuple's __new__ frame


def parse(frame: bytes | bytearray | memoryview, linktype: int = LINKTYPE_ETHERNET) -> Packet:
    """Parse one frame of the given pcap link type; raises only ``PacketError``.

    The dominant live case is decoded here with one unpack: untagged Ethernet + IPv4 without
    options, not a fragment (MF clear, offset 0), carrying TCP or UDP, in a frame of at least 48
    bytes. Everything else, and every such frame the general path would reject, goes to
    ``_parse_general``, so results and error messages are the same as without the fast path.
    """
    if type(frame) is not bytes:
        frame = bytes(frame)
    n = len(frame)
    # Two byte peeks (IPv4 with IHL 5, then TCP or UDP, where an untagged frame has them) keep
    # VLAN, IPv6, ARP and ICMP frames off the unpack they would not use.
    if linktype == LINKTYPE_ETHERNET and n >= _FAST_MIN and frame[14] == 0x45 and frame[23] in _FAST_PROTOS:
        (
            eth_dst,
            eth_src,
            eth_type,
            _ver_ihl,
            total,
            frag,
            ttl,
            proto,
            src,
            dst,
            sport,
            dport,
            seq,
            ack,
            doff,
            flags,
        ) = _ETH_IPV4_L4.unpack_from(frame)
        if eth_type == ETH_TYPE_IPV4 and not frag & 0x3FFF:  # a total below 20 fails both L4 checks below
            end = 14 + total
            truncated = end > n
            if truncated:
                end = n
            if proto == IPPROTO_TCP:
                hlen = (doff >> 4) * 4
                if 20 <= hlen <= end - 34:  # else a bad data offset or a TCP header cut short
                    return _new_packet(
                        Packet,
                        (
                            frame,
                            eth_dst,
                            eth_src,
                            None,
                            ETH_TYPE_IPV4,
                            14,
                            4,
                            src,
                            dst,
                            proto,
                            ttl,
                            total,
                            False,
                            0,
                            34,
                            sport,
                            dport,
                            flags | (doff & 1) << 8,
                            seq,
                            ack,
                            None,
                            None,
                            34 + hlen,
                            end,
                            truncated,
                        ),
                    )
            elif proto == IPPROTO_UDP and end >= 42:  # else a UDP header cut short
                ulen = seq >> 16  # the UDP length sits where TCP's sequence number starts
                if 8 <= ulen < end - 34:
                    end = 34 + ulen
                return _new_packet(
                    Packet,
                    (
                        frame,
                        eth_dst,
                        eth_src,
                        None,
                        ETH_TYPE_IPV4,
                        14,
                        4,
                        src,
                        dst,
                        proto,
                        ttl,
                        total,
                        False,
                        0,
                        34,
                        sport,
                        dport,
                        0,
                        0,
                        0,
                        None,
                        None,
                        42,
                        end,
                        truncated,
                    ),
                )
    return _parse_general(frame, linktype)


def _parse_general(frame: bytes, linktype: int) -> Packet:
    """``parse`` without the fast path: every link type and header, and every error message."""
    try:
        return _parse(frame, linktype)
    except PacketError:
        raise
    except (struct.error, IndexError, ValueError) as exc:  # defensive: a header read past the end
        raise PacketError(f"malformed frame ({len(frame)} bytes): {exc}") from None


def _parse(frame: bytes, linktype: int) -> Packet:
    n = len(frame)
    eth_dst = eth_src = b""
    vlan = None
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            raise PacketError(f"truncated Ethernet header ({n} of 14 bytes)")
        eth_dst = frame[0:6]
        eth_src = frame[6:12]
        eth_type = (frame[12] << 8) | frame[13]
        off = 14
        while eth_type in _VLAN_TYPES:
            if n < off + 4:
                raise PacketError(f"truncated VLAN tag at byte {off}")
            if vlan is None:
                vlan = ((frame[off] << 8) | frame[off + 1]) & 0x0FFF
            eth_type = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
        if eth_type == ETH_TYPE_PPPOE_SESSION:
            if n < off + 8:
                raise PacketError(f"truncated PPPoE header at byte {off}")
            ppp = (frame[off + 6] << 8) | frame[off + 7]
            off += 8
            eth_type = (
                ETH_TYPE_IPV4 if ppp == 0x0021 else ETH_TYPE_IPV6 if ppp == 0x0057 else ETH_TYPE_PPPOE_SESSION
            )
        elif eth_type in (ETH_TYPE_MPLS, ETH_TYPE_MPLS_MULTICAST):
            for _ in range(_MAX_MPLS_LABELS):
                if n < off + 4:
                    raise PacketError(f"truncated MPLS label at byte {off}")
                off += 4
                if frame[off - 2] & 0x01:  # bottom of stack
                    break
            else:
                raise PacketError(f"more than {_MAX_MPLS_LABELS} MPLS labels")
            version = frame[off] >> 4 if n > off else 0
            eth_type = ETH_TYPE_IPV4 if version == 4 else ETH_TYPE_IPV6 if version == 6 else eth_type
    else:
        eth_type, off, eth_src = _link_header(frame, linktype)

    if eth_type == ETH_TYPE_IPV4:
        return _parse_ipv4(frame, off, eth_dst, eth_src, vlan)
    if eth_type == ETH_TYPE_IPV6:
        return _parse_ipv6(frame, off, eth_dst, eth_src, vlan)
    return Packet(
        frame,
        eth_dst,
        eth_src,
        vlan,
        eth_type,
        off,
        0,
        0,
        0,
        0,
        0,
        0,
        False,
        0,
        -1,
        0,
        0,
        0,
        0,
        0,
        None,
        None,
        off,
        n,
        False,
    )


def _link_header(frame: bytes, linktype: int) -> tuple[int, int, bytes]:
    """(eth_type, L3 offset, link source address) for the non-Ethernet link types."""
    n = len(frame)
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if n < 1:
            raise PacketError("empty raw IP frame")
        version = frame[0] >> 4
        return (ETH_TYPE_IPV6 if version == 6 else ETH_TYPE_IPV4 if version == 4 else 0), 0, b""
    if linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            raise PacketError(f"truncated Linux cooked (SLL) header ({n} of 16 bytes)")
        addr_len = min((frame[4] << 8) | frame[5], 8)
        return (frame[14] << 8) | frame[15], 16, frame[6 : 6 + addr_len]
    if linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            raise PacketError(f"truncated Linux cooked v2 (SLL2) header ({n} of 20 bytes)")
        addr_len = min(frame[11], 8)
        return (frame[0] << 8) | frame[1], 20, frame[12 : 12 + addr_len]
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if n < 4:
            raise PacketError(f"truncated loopback header ({n} of 4 bytes)")
        family = int.from_bytes(frame[0:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if family not in (2, 10, 24, 28, 30):
            family = int.from_bytes(frame[0:4], "little" if linktype == LINKTYPE_LOOP else "big")
        return (ETH_TYPE_IPV4 if family == 2 else ETH_TYPE_IPV6 if family in (10, 24, 28, 30) else 0), 4, b""
    raise PacketError(f"unsupported link type {linktype}")


def _parse_ipv4(frame: bytes, off: int, eth_dst: bytes, eth_src: bytes, vlan: int | None) -> Packet:
    n = len(frame)
    if n < off + 20:
        raise PacketError(f"truncated IPv4 header ({n - off} of 20 bytes)")
    ver_ihl, _tos, total, _ident, frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(frame, off)
    if ver_ihl >> 4 != 4:
        raise PacketError(f"IPv4 header with version {ver_ihl >> 4}")
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20:
        raise PacketError(f"IPv4 header length {ihl} below 20")
    if n < off + ihl:
        raise PacketError(f"truncated IPv4 options ({n - off} of {ihl} bytes)")
    if total < ihl:
        raise PacketError(f"IPv4 total length {total} below header length {ihl}")
    end = off + total
    truncated = end > n
    if truncated:
        end = n
    frag_offset = (frag & 0x1FFF) * 8
    is_fragment = bool(frag & 0x2000) or frag_offset != 0
    return _parse_l4(
        frame,
        off + ihl,
        end,
        truncated,
        frag_offset,
        is_fragment,
        eth_dst,
        eth_src,
        vlan,
        ETH_TYPE_IPV4,
        off,
        4,
        src,
        dst,
        proto,
        ttl,
        total,
    )


def _parse_ipv6(frame: bytes, off: int, eth_dst: bytes, eth_src: bytes, vlan: int | None) -> Packet:
    n = len(frame)
    if n < off + 40:
        raise PacketError(f"truncated IPv6 header ({n - off} of 40 bytes)")
    ver_flow, plen, proto, hlim = _IPV6.unpack_from(frame, off)
    if ver_flow >> 28 != 6:
        raise PacketError(f"IPv6 header with version {ver_flow >> 28}")
    src = int.from_bytes(frame[off + 8 : off + 24], "big")
    dst = int.from_bytes(frame[off + 24 : off + 40], "big")
    end = off + 40 + plen
    truncated = end > n
    if truncated:
        end = n
    pos = off + 40
    frag_offset = 0
    is_fragment = False
    walked = 0
    while proto in _IPV6_EXT:
        walked += 1
        if walked > _MAX_IPV6_EXT:
            raise PacketError(f"more than {_MAX_IPV6_EXT} IPv6 extension headers")
        if end < pos + 8:
            raise PacketError(f"truncated IPv6 extension header {proto} at byte {pos}")
        next_proto = frame[pos]
        if proto == 44:  # fragment header: fixed 8 bytes
            field = (frame[pos + 2] << 8) | frame[pos + 3]
            frag_offset = (field >> 3) * 8
            is_fragment = True
            length = 8
        elif proto == 51:  # AH: length in 4-byte units, minus 2
            length = (frame[pos + 1] + 2) * 4
        else:
            length = (frame[pos + 1] + 1) * 8
        pos += length
        proto = next_proto
        if frag_offset:
            break
    if pos > end:
        raise PacketError(f"IPv6 extension headers run past the datagram end ({pos} > {end})")
    return _parse_l4(
        frame,
        pos,
        end,
        truncated,
        frag_offset,
        is_fragment,
        eth_dst,
        eth_src,
        vlan,
        ETH_TYPE_IPV6,
        off,
        6,
        src,
        dst,
        proto,
        hlim,
        40 + plen,
    )


def _parse_l4(
    frame: bytes,
    l4: int,
    end: int,
    truncated: bool,
    frag_offset: int,
    is_fragment: bool,
    eth_dst: bytes,
    eth_src: bytes,
    vlan: int | None,
    eth_type: int,
    l3: int,
    version: int,
    src: int,
    dst: int,
    proto: int,
    ttl: int,
    ip_len: int,
) -> Packet:
    sport = dport = flags = seq = ack = 0
    icmp_type = icmp_code = None
    if frag_offset:  # a non-first fragment carries no L4 header
        return Packet(
            frame,
            eth_dst,
            eth_src,
            vlan,
            eth_type,
            l3,
            version,
            src,
            dst,
            proto,
            ttl,
            ip_len,
            True,
            frag_offset,
            -1,
            0,
            0,
            0,
            0,
            0,
            None,
            None,
            l4,
            end,
            truncated,
        )
    avail = end - l4
    if proto == IPPROTO_TCP:
        if avail < 20:
            raise PacketError(f"truncated TCP header ({avail} of 20 bytes)")
        sport, dport, seq, ack, doff, flags = _TCP.unpack_from(frame, l4)
        hlen = (doff >> 4) * 4
        if hlen < 20:
            raise PacketError(f"TCP data offset {hlen} below 20")
        if hlen > avail:
            raise PacketError(f"TCP header length {hlen} beyond the {avail} captured bytes")
        flags |= (doff & 1) << 8
        payload = l4 + hlen
    elif proto == IPPROTO_UDP:
        if avail < 8:
            raise PacketError(f"truncated UDP header ({avail} of 8 bytes)")
        sport, dport = _PORTS.unpack_from(frame, l4)
        payload = l4 + 8
        ulen = (frame[l4 + 4] << 8) | frame[l4 + 5]
        if 8 <= ulen < avail and not is_fragment:
            end = l4 + ulen
    elif proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        if avail < 4:
            raise PacketError(f"truncated ICMP header ({avail} of 4 bytes)")
        icmp_type = frame[l4]
        icmp_code = frame[l4 + 1]
        payload = min(l4 + 8, end)
    elif proto == IPPROTO_SCTP:
        if avail < 12:
            raise PacketError(f"truncated SCTP header ({avail} of 12 bytes)")
        sport, dport = _PORTS.unpack_from(frame, l4)
        payload = l4 + 12
    else:
        return Packet(
            frame,
            eth_dst,
            eth_src,
            vlan,
            eth_type,
            l3,
            version,
            src,
            dst,
            proto,
            ttl,
            ip_len,
            is_fragment,
            frag_offset,
            -1,
            0,
            0,
            0,
            0,
            0,
            None,
            None,
            l4,
            end,
            truncated,
        )
    return Packet(
        frame,
        eth_dst,
        eth_src,
        vlan,
        eth_type,
        l3,
        version,
        src,
        dst,
        proto,
        ttl,
        ip_len,
        is_fragment,
        frag_offset,
        l4,
        sport,
        dport,
        flags,
        seq,
        ack,
        icmp_type,
        icmp_code,
        payload,
        end,
        truncated,
    )


def icmp_embedded(packet: Packet) -> Packet | None:
    """The offending packet quoted in an ICMP/ICMPv6 error (dest unreachable, time exceeded...).

    Returns ``None`` when ``packet`` is not such an error or the quote cannot be parsed; the
    quoted L4 header may be only 8 bytes, so TCP fields other than ports may be zero.
    """
    if packet.icmp_type is None:
        return None
    if packet.ip_version == 4 and packet.icmp_type not in (3, 4, 5, 11, 12):
        return None
    if packet.ip_version == 6 and packet.icmp_type not in (1, 2, 3, 4):
        return None
    quote = packet.frame[packet.payload_offset : packet.payload_end]
    try:
        inner = _parse(quote, LINKTYPE_RAW)
    except PacketError:
        return _quoted_ports_only(quote)
    except (struct.error, IndexError, ValueError):
        return None
    return inner


def _quoted_ports_only(quote: bytes) -> Packet | None:
    """Parse a quote whose TCP header is cut at 8 bytes: keep the addresses and ports."""
    if len(quote) < 28 or quote[0] >> 4 not in (4, 6):
        return None
    version = quote[0] >> 4
    try:
        if version == 4:
            ihl = (quote[0] & 0x0F) * 4
            src, dst = struct.unpack_from("!II", quote, 12)
            proto, ttl, l4 = quote[9], quote[8], ihl
        else:
            src = int.from_bytes(quote[8:24], "big")
            dst = int.from_bytes(quote[24:40], "big")
            proto, ttl, l4 = quote[6], quote[7], 40
        sport, dport = _PORTS.unpack_from(quote, l4)
    except (struct.error, IndexError):
        return None
    return Packet(
        quote,
        b"",
        b"",
        None,
        ETH_TYPE_IPV6 if version == 6 else ETH_TYPE_IPV4,
        0,
        version,
        src,
        dst,
        proto,
        ttl,
        len(quote),
        False,
        0,
        l4,
        sport,
        dport,
        0,
        0,
        0,
        None,
        None,
        len(quote),
        len(quote),
        True,
    )


def decapsulate(packet: Packet) -> Packet | None:
    """The inner packet of an IP-in-IP, 6in4, GRE (IP or Ethernet payload) or VXLAN tunnel, else None.

    Raises ``PacketError`` when the tunnel's inner headers are malformed.
    """
    if packet.l4_offset < 0 and packet.is_fragment:
        return None
    proto = packet.ip_proto
    inner = packet.frame[packet.payload_offset : packet.payload_end]
    if proto in (IPPROTO_IPIP, IPPROTO_IPV6_IN_IP) and not packet.is_fragment:
        return parse(inner, LINKTYPE_RAW)
    if proto == IPPROTO_GRE and not packet.is_fragment:
        if len(inner) < 4:
            raise PacketError(f"truncated GRE header ({len(inner)} of 4 bytes)")
        flags, kind = _PORTS.unpack_from(inner)
        if flags & 0x0007:  # only GRE version 0 carries packets this way
            return None
        start = 4 + 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
        if kind in (ETH_TYPE_IPV4, ETH_TYPE_IPV6):
            return parse(inner[start:], LINKTYPE_RAW)
        if kind == 0x6558:  # transparent Ethernet bridging
            return parse(inner[start:])
        return None
    if proto == IPPROTO_UDP and packet.l4_dst == 4789 and packet.payload_len >= 8 + 14:
        payload = packet.frame[packet.payload_offset : packet.payload_end]
        if payload[0] & 0x08:  # VXLAN "I" flag: a valid VNI follows
            return parse(payload[8:])
    return None


# --------------------------------------------------------------------------------------------
# Checksums, rewriting and building


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The 16-bit one's-complement checksum of RFC 1071 over ``data`` (plus a partial sum)."""
    data = bytes(data)
    if len(data) & 1:
        data += b"\0"
    total = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _csum_adjust(csum: int, old: bytes, new: bytes) -> int:
    """Update a checksum for a change of ``old`` to ``new`` (same even length), RFC 1624 eqn. 3."""
    total = ~csum & 0xFFFF
    for i in range(0, len(old), 2):
        total += (~((old[i] << 8) | old[i + 1]) & 0xFFFF) + ((new[i] << 8) | new[i + 1])
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rewrite(
    packet: Packet,
    *,
    eth_src: bytes | None = None,
    eth_dst: bytes | None = None,
    ip_src: int | None = None,
    ip_dst: int | None = None,
    l4_src: int | None = None,
    l4_dst: int | None = None,
    ttl: int | None = None,
) -> bytes:
    """A copy of the frame with the given fields changed and the checksums fixed incrementally.

    Ports can only change on TCP/UDP/SCTP packets that carry their L4 header; SCTP's CRC32c is
    not recomputed. Raises ``PacketError`` when a field does not apply to the packet.
    """
    buf = bytearray(packet.frame)
    if eth_src is not None or eth_dst is not None:
        if not packet.eth_dst:
            raise PacketError("cannot rewrite MAC addresses of a frame without an Ethernet header")
        if eth_dst is not None:
            buf[0:6] = eth_dst
        if eth_src is not None:
            buf[6:12] = eth_src
    if ip_src is None and ip_dst is None and l4_src is None and l4_dst is None and ttl is None:
        return bytes(buf)
    if not packet.ip_version:
        raise PacketError("cannot rewrite IP fields of a non-IP frame")
    l3, l4, proto = packet.l3_offset, packet.l4_offset, packet.ip_proto
    size = 4 if packet.ip_version == 4 else 16
    src_at, dst_at = (l3 + 12, l3 + 16) if size == 4 else (l3 + 8, l3 + 24)
    l4_csum_at = -1
    if l4 >= 0:
        if proto == IPPROTO_TCP:
            l4_csum_at = l4 + 16
        elif proto == IPPROTO_UDP:
            l4_csum_at = l4 + 6
        elif proto == IPPROTO_ICMPV6:
            l4_csum_at = l4 + 2
    pseudo = proto in (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6)

    def change(at: int, new: bytes, in_ip_header: bool, in_pseudo: bool) -> None:
        nonlocal l4_csum_at
        old = bytes(buf[at : at + len(new)])
        if old == new:
            return
        buf[at : at + len(new)] = new
        if in_ip_header and packet.ip_version == 4:
            csum = (buf[l3 + 10] << 8) | buf[l3 + 11]
            buf[l3 + 10 : l3 + 12] = _H.pack(_csum_adjust(csum, old, new))
        if in_pseudo and l4_csum_at >= 0 and l4_csum_at + 2 <= packet.payload_end:
            csum = (buf[l4_csum_at] << 8) | buf[l4_csum_at + 1]
            if proto == IPPROTO_UDP and csum == 0 and packet.ip_version == 4:
                return  # no UDP checksum: leave it absent
            fixed = _csum_adjust(csum, old, new)
            if proto == IPPROTO_UDP and fixed == 0:
                fixed = 0xFFFF
            buf[l4_csum_at : l4_csum_at + 2] = _H.pack(fixed)

    if ip_src is not None:
        change(src_at, ip_src.to_bytes(size, "big"), True, pseudo)
    if ip_dst is not None:
        change(dst_at, ip_dst.to_bytes(size, "big"), True, pseudo)
    if ttl is not None:
        at = l3 + 8 if size == 4 else l3 + 7
        if size == 4:  # TTL shares a 16-bit word with the protocol number
            change(at, bytes((ttl, buf[at + 1])), True, False)
        else:
            buf[at] = ttl
    if l4_src is not None or l4_dst is not None:
        if l4 < 0 or proto not in (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP):
            raise PacketError("cannot rewrite ports of a packet without a TCP/UDP/SCTP header")
        if l4_src is not None:
            change(l4, _H.pack(l4_src), False, True)
        if l4_dst is not None:
            change(l4 + 2, _H.pack(l4_dst), False, True)
    return bytes(buf)


def build_frame(
    *,
    ip_src: str,
    ip_dst: str,
    ip_proto: int = IPPROTO_UDP,
    l4_src: int = 0,
    l4_dst: int = 0,
    payload: bytes = b"",
    tcp_flags: int = TCP_ACK,
    tcp_seq: int = 0,
    tcp_ack: int = 0,
    icmp_type: int = 8,
    icmp_code: int = 0,
    eth_src: str = "02:00:00:00:00:01",
    eth_dst: str = "02:00:00:00:00:02",
    vlan: int | None = None,
    ttl: int = 64,
) -> bytes:
    """An Ethernet frame (IPv4 or IPv6 by the address form) with valid checksums, for tests/benches."""
    src, version = ip_value(ip_src)
    dst, dst_version = ip_value(ip_dst)
    if version != dst_version:
        raise PacketError(f"mixed IP versions: {ip_src} -> {ip_dst}")
    size = 4 if version == 4 else 16
    src_b, dst_b = src.to_bytes(size, "big"), dst.to_bytes(size, "big")
    if ip_proto == IPPROTO_TCP:
        l4 = struct.pack(
            "!HHIIBBHHH", l4_src, l4_dst, tcp_seq, tcp_ack, 5 << 4, tcp_flags & 0xFF, 65535, 0, 0
        )
        csum_at = 16
    elif ip_proto == IPPROTO_UDP:
        l4 = struct.pack("!HHHH", l4_src, l4_dst, 8 + len(payload), 0)
        csum_at = 6
    elif ip_proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        l4 = struct.pack("!BBHHH", icmp_type, icmp_code, 0, l4_src, l4_dst)
        csum_at = 2
    else:
        l4 = b""
        csum_at = -1
    segment = bytearray(l4 + payload)
    if csum_at >= 0:
        if ip_proto == IPPROTO_ICMP:
            partial = 0
        else:
            pseudo = (
                src_b
                + dst_b
                + (
                    struct.pack("!HH", ip_proto, len(segment))
                    if size == 4
                    else struct.pack("!IxxxB", len(segment), ip_proto)
                )
            )
            partial = sum(struct.unpack(f"!{len(pseudo) // 2}H", pseudo))
        csum = internet_checksum(segment, partial)
        if ip_proto == IPPROTO_UDP and csum == 0:
            csum = 0xFFFF
        segment[csum_at : csum_at + 2] = _H.pack(csum)
    if version == 4:
        header = bytearray(
            struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, ttl, ip_proto, 0, src_b, dst_b
            )
        )
        header[10:12] = _H.pack(internet_checksum(header))
        eth_type = ETH_TYPE_IPV4
    else:
        header = bytearray(struct.pack("!IHBB16s16s", 6 << 28, len(segment), ip_proto, ttl, src_b, dst_b))
        eth_type = ETH_TYPE_IPV6
    tag = struct.pack("!HH", ETH_TYPE_VLAN, vlan & 0x0FFF) if vlan is not None else b""
    return mac_bytes(eth_dst) + mac_bytes(eth_src) + tag + _H.pack(eth_type) + bytes(header) + bytes(segment)
