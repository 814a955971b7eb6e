"""Raw AF_PACKET sockets for the live engine: plain sockets and TPACKET_V3 receive rings.

A VNF port is one Linux interface in promiscuous mode. Its sockets ignore the frames the
host itself sends (``PACKET_IGNORE_OUTGOING``), so a bump-in-the-wire never sees its own
output again, and can join a ``PACKET_FANOUT`` group in hash mode so several worker
processes share an interface while both directions of a flow land on the same worker (the
kernel's fanout hash is symmetric). ``RxRing`` maps a TPACKET_V3 ring: the kernel fills
blocks of frames and the worker walks them without one system call per packet.
"""

from __future__ import annotations

import mmap
import select
import socket
import struct
from collections.abc import Iterator

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_VERSION = 10
PACKET_TX_RING = 13
PACKET_FANOUT = 18
PACKET_IGNORE_OUTGOING = 23
PACKET_FANOUT_HASH = 0
TPACKET_V2 = 1
TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
PACKET_HOST = 0
TP_STATUS_AVAILABLE = 0
TP_STATUS_SEND_REQUEST = 1
_TX_DATA_OFFSET = 32  # TPACKET2_HDRLEN - sizeof(struct sockaddr_ll): where a TX frame's bytes start

_BLOCK_HDR = struct.Struct("=III")  # version, offset_to_priv, block_status (of tpacket_hdr_v1)
_PKT_HDR = struct.Struct("=IIIIIIHH")  # next_offset, sec, nsec, snaplen, len, status, mac, net


def interface_mac(ifname: str) -> bytes:
    """The interface's MAC address (6 bytes) from sysfs."""
    with open(f"/sys/class/net/{ifname}/address") as handle:
        return bytes.fromhex(handle.read().strip().replace(":", ""))


class RxRing:
    """A TPACKET_V3 receive ring on a bound AF_PACKET socket."""

    def __init__(
        self,
        sock: socket.socket,
        block_size: int = 1 << 16,
        block_count: int = 64,
        frame_size: int = 2048,
        retire_ms: int = 1,
    ):
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frames = block_size // frame_size * block_count
        req = struct.pack("=IIIIIII", block_size, block_count, frame_size, frames, retire_ms, 0, 0)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self.sock = sock
        self.block_size = block_size
        self.block_count = block_count
        self.map = mmap.mmap(
            sock.fileno(), block_size * block_count, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        self.view = memoryview(self.map)
        self.current = 0

    def ready(self) -> bool:
        """True when the current block holds frames for user space."""
        offset = self.current * self.block_size
        return bool(_BLOCK_HDR.unpack_from(self.map, offset)[2] & TP_STATUS_USER)

    def blocks(self, limit: int = 4) -> Iterator[list[bytes]]:
        """Yield the frames of up to ``limit`` ready blocks, returning each block to the kernel."""
        m = self.map
        view = self.view
        for _ in range(limit):
            base = self.current * self.block_size
            status = _BLOCK_HDR.unpack_from(m, base)[2]
            if not status & TP_STATUS_USER:
                return
            num_pkts, first = struct.unpack_from("=II", m, base + 12)
            frames = []
            offset = base + first
            for _ in range(num_pkts):
                next_offset, _s, _ns, snaplen, _len, _st, mac, _net = _PKT_HDR.unpack_from(m, offset)
                frames.append(view[offset + mac : offset + mac + snaplen].tobytes())
                offset += next_offset
            struct.pack_into("=I", m, base + 8, TP_STATUS_KERNEL)
            self.current = (self.current + 1) % self.block_count
            yield frames

    def close(self) -> None:
        """Unmap the ring."""
        self.view.release()
        self.map.close()


def open_port_socket(
    ifname: str, fanout_group: int | None = None, rcvbuf: int = 4 << 20, ring: bool = False
) -> tuple[socket.socket, RxRing | None]:
    """A promiscuous raw socket on ``ifname`` that ignores outgoing frames, optionally with a
    TPACKET_V3 ring and in a fanout group; returns (socket, ring or None)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    rx_ring = None
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        if ring:
            rx_ring = RxRing(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, rcvbuf)
        sock.bind((ifname, ETH_P_ALL))
        ifindex = socket.if_nametoindex(ifname)
        sock.setsockopt(
            SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        )
        if fanout_group is not None:
            sock.setsockopt(SOL_PACKET, PACKET_FANOUT, (fanout_group & 0xFFFF) | (PACKET_FANOUT_HASH << 16))
    except OSError:
        if rx_ring is not None:
            rx_ring.close()
        sock.close()
        raise
    sock.setblocking(False)
    return sock, rx_ring


class TxRing:
    """A TPACKET_V2 transmit ring on its own socket: ``put`` frames, then ``flush`` them with
    one system call for the whole batch instead of one ``send`` per frame."""

    def __init__(self, ifname: str, frame_size: int = 2048, frame_count: int = 1024):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
            per_block = 4096 // frame_size if frame_size < 4096 else 1
            block_size = frame_size * per_block
            req = struct.pack("=IIII", block_size, frame_count // per_block, frame_size, frame_count)
            sock.setsockopt(SOL_PACKET, PACKET_TX_RING, req)
            sock.bind((ifname, 0))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.frame_size = frame_size
        self.frame_count = frame_count
        self.map = mmap.mmap(
            sock.fileno(), frame_size * frame_count, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        self.slot = 0
        self.pending = 0
        self.max_frame = frame_size - _TX_DATA_OFFSET

    def put(self, frame: bytes) -> bool:
        """Queue one frame; False when the ring is full or the frame too large (caller decides)."""
        size = len(frame)
        if size > self.max_frame:
            return False
        m = self.map
        offset = self.slot * self.frame_size
        if _STATUS.unpack_from(m, offset)[0] != TP_STATUS_AVAILABLE:
            return False
        start = offset + _TX_DATA_OFFSET
        m[start : start + size] = frame
        _LENS.pack_into(m, offset + 4, size, size)
        _STATUS.pack_into(m, offset, TP_STATUS_SEND_REQUEST)
        self.slot = (self.slot + 1) % self.frame_count
        self.pending += 1
        return True

    def flush(self) -> None:
        """Ask the kernel to transmit every queued frame (without waiting for completion)."""
        if self.pending:
            self.pending = 0
            try:
                self.sock.send(b"", socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                pass

    def close(self) -> None:
        """Unmap the ring and close its socket."""
        self.map.close()
        self.sock.close()


_STATUS = struct.Struct("=I")
_LENS = struct.Struct("=II")


class Readiness:
    """Waits until some of a fixed set of sockets have frames (or ring blocks) to read: one
    ``epoll`` set registered once, so each wait is one system call with nothing to rebuild."""

    def __init__(self, socks: list[socket.socket]):
        self.epoll = select.epoll()
        self.by_fd = {}
        for sock in socks:
            self.epoll.register(sock.fileno(), select.EPOLLIN)
            self.by_fd[sock.fileno()] = sock

    def wait(self, timeout: float) -> list[socket.socket]:
        """The sockets readable within ``timeout`` seconds (empty on timeout)."""
        by_fd = self.by_fd
        return [by_fd[fd] for fd, _events in self.epoll.poll(timeout)]

    def close(self) -> None:
        """Release the epoll descriptor."""
        self.epoll.close()
