"""A live-engine ``Worker`` whose ports are datagram socket pairs: the engine's bookkeeping
(which frame goes out of which port) tested without a network. Shared by the engine and the
user-error tests."""

from __future__ import annotations

import socket

from sdnlab.vnfs.framework.engine import PortIO, Worker

OWN_MAC = bytes.fromhex("020000000099")


def make_worker(vnf, pass_host_frames=False):
    """(worker, peers): ``peers[port]`` is the far end of that port's socket pair."""
    ports, peers = {}, {}
    for name in vnf.ports:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        theirs.setblocking(False)
        ports[name] = PortIO(name, f"if-{name}", ours, OWN_MAC)
        peers[name] = theirs
    return Worker(vnf, ports, pass_host_frames=pass_host_frames), peers


def drain(sock):
    """Every frame waiting on ``sock``."""
    out = []
    while True:
        try:
            out.append(sock.recv(65535))
        except BlockingIOError:
            return out
