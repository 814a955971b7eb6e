"""IPv4 fragment reassembly for inspection: the DPI engine classifies whole datagrams.

A SIP INVITE or a DNS answer larger than the path MTU arrives in several IPv4 fragments; only
the first carries the UDP/TCP header, so without reassembly the flow would be classified on a
cut payload and the rest never seen. ``Reassembler.add`` takes each fragment (a parsed
``Packet`` with ``is_fragment`` set) and returns the whole datagram, parsed, once every byte
from offset 0 to the end of the fragment without "more fragments" has arrived, in any order.

It is built for hostile input and bounded memory: at most ``max_datagrams`` datagrams in
progress (the oldest is dropped to make room), ``max_fragments`` fragments each, whole
datagrams of at most 65,535 bytes, and ``timeout`` seconds from a datagram's first fragment
to its last. Fragments that overlap data already held (the teardrop family) discard the
datagram, as RFC 5722 asks for IPv6, and so do impossible lengths; every later fragment of a
discarded datagram is discarded too until its timeout (so a rewritten copy cannot be slipped in
after the overlap); identical retransmitted fragments are ignored. What was dropped and why is
counted in ``stats``. The reassembled datagram is for inspection only: the DPI VNF still forwards
the fragments as they came.

IPv6 fragments are not reassembled (their identification lives in an extension header the
parser skips); they are counted by the engine as before.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from sdnlab.vnfs import packet as pk

MAX_DATAGRAM = 65535  # an IPv4 datagram's largest total length


@dataclass
class _Datagram:
    """The fragments of one datagram received so far."""

    started: float
    header: bytes = b""  # link + IP header of the offset-0 fragment, once it arrived
    l3: int = 0  # where the IP header starts in ``header``
    ihl: int = 0
    poisoned: bool = False  # overlapping fragments seen: the rest of the datagram is discarded
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    end: int | None = None  # payload length, known from the last fragment
    held: int = 0  # bytes in ``pieces``


class Reassembler:
    """Bounded IPv4 reassembly (see the module docstring)."""

    def __init__(self, max_datagrams: int = 1024, max_fragments: int = 64, timeout: float = 30.0):
        self.max_datagrams = max_datagrams
        self.max_fragments = max_fragments
        self.timeout = timeout
        self._datagrams: OrderedDict[tuple, _Datagram] = OrderedDict()
        self.stats: Counter = Counter()

    def __len__(self) -> int:
        return len(self._datagrams)

    def add(self, packet: pk.Packet, ts: float) -> pk.Packet | None:
        """Take one IPv4 fragment; the reassembled datagram when it completes one, else None."""
        self.expire(ts)
        frame, l3 = packet.frame, packet.l3_offset
        ihl = (frame[l3] & 0x0F) * 4
        key = (packet.ip_src, packet.ip_dst, packet.ip_proto, (frame[l3 + 4] << 8) | frame[l3 + 5])
        offset = packet.frag_offset
        more = bool(frame[l3 + 6] & 0x20)
        data = frame[l3 + ihl : packet.payload_end]
        stats = self.stats
        stats["fragments"] += 1
        datagram = self._datagrams.get(key)
        if datagram is not None and ts - datagram.started >= self.timeout:
            del self._datagrams[key]  # too old to finish: start over with this fragment
            stats["expired"] += 1
            datagram = None
        if datagram is None:
            if len(self._datagrams) >= self.max_datagrams:
                self._datagrams.popitem(last=False)
                stats["evicted"] += 1
            datagram = self._datagrams[key] = _Datagram(ts)
        else:
            self._datagrams.move_to_end(key)
        if datagram.poisoned:
            stats["dropped_after_discard"] += 1
            return None
        if offset + len(data) + ihl > MAX_DATAGRAM or (more and len(data) % 8):
            self._drop(key, "bad_length")
            return None
        held = datagram.pieces.get(offset)
        if held is not None and held == data:
            stats["duplicates"] += 1
            return None
        if self._overlaps(datagram, offset, len(data)):
            self._drop(key, "overlapping")
            return None
        if len(datagram.pieces) >= self.max_fragments:
            self._drop(key, "too_many_fragments")
            return None
        if not more:
            if datagram.end is not None or any(
                o + len(d) > offset + len(data) for o, d in datagram.pieces.items()
            ):
                self._drop(key, "bad_length")
                return None
            datagram.end = offset + len(data)
        elif datagram.end is not None and offset + len(data) > datagram.end:
            self._drop(key, "bad_length")
            return None
        if offset == 0:
            datagram.header, datagram.l3, datagram.ihl = frame[: l3 + ihl], l3, ihl
        datagram.pieces[offset] = data
        datagram.held += len(data)
        if datagram.end is None or not datagram.header or datagram.held != datagram.end:
            return None
        del self._datagrams[key]  # no overlaps and every byte held: the pieces tile 0..end
        return self._whole(datagram)

    def expire(self, ts: float) -> None:
        """Drop datagrams whose first fragment is older than ``timeout``."""
        datagrams = self._datagrams
        while datagrams:
            key, oldest = next(iter(datagrams.items()))
            if ts - oldest.started < self.timeout:
                # not strictly the oldest start (the order is by last activity), but every
                # datagram is checked when it is touched again or reaches the front
                break
            del datagrams[key]
            self.stats["expired"] += 1

    @staticmethod
    def _overlaps(datagram: _Datagram, offset: int, size: int) -> bool:
        return any(offset < o + len(d) and o < offset + size for o, d in datagram.pieces.items())

    def _drop(self, key: tuple, reason: str) -> None:
        """Discard the datagram; its key stays as a tombstone until the timeout, so its later
        fragments are discarded too (counted as ``dropped_after_discard``)."""
        datagram = self._datagrams[key]
        datagram.poisoned, datagram.pieces, datagram.held = True, {}, 0
        self.stats[f"dropped_{reason}"] += 1
        return

    def _whole(self, datagram: _Datagram) -> pk.Packet | None:
        payload = b"".join(datagram.pieces[o] for o in sorted(datagram.pieces))
        header = bytearray(datagram.header)
        l3 = datagram.l3  # the first fragment's layout (its tags, its header length) is the datagram's
        total = datagram.ihl + len(payload)
        if total > MAX_DATAGRAM:  # other fragments' headers were shorter than the first one's
            self.stats["dropped_bad_length"] += 1
            return None
        header[l3 + 2 : l3 + 4] = total.to_bytes(2, "big")
        header[l3 + 6 : l3 + 8] = b"\x00\x00"  # flags and offset: a whole datagram now
        header[l3 + 10 : l3 + 12] = b"\x00\x00"
        header[l3 + 10 : l3 + 12] = pk.internet_checksum(header[l3 : l3 + datagram.ihl]).to_bytes(2, "big")
        try:
            whole = pk.parse(bytes(header) + payload)
        except pk.PacketError:
            self.stats["dropped_unparsable"] += 1
            return None
        self.stats["reassembled"] += 1
        return whole
