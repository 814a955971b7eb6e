"""The worker's dispatch logic (which frames go out of which port), over datagram socket pairs
standing in for the ports: no network is claimed here, only the engine's bookkeeping."""

from __future__ import annotations

from vnf_socketpairs import OWN_MAC, drain, make_worker

from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.testing import udp
from sdnlab.vnfs.framework.verdict import drop, forward, send_to


class Steering(VNF):
    """UDP port 1 -> forward, 2 -> drop with a reply, 3 -> send to 'mirror', else forward."""

    def handle(self, packet):
        if packet.l4_dst == 2:
            return drop("no", reply=b"reply-frame")
        if packet.l4_dst == 3:
            return send_to("mirror")
        return forward()


def test_dispatch_forwards_drops_replies_and_steers_by_port_name():
    vnf = Steering(ports=("inside", "outside", "mirror"))
    worker, peers = make_worker(vnf)
    frames = [udp("10.0.0.1", 9, "10.0.0.2", port) for port in (1, 2, 3)]
    worker.dispatch(worker.ports["inside"], frames, now=1.0)
    assert drain(peers["outside"]) == [frames[0]]  # default egress of inside
    assert drain(peers["inside"]) == [b"reply-frame"]  # the reply goes back where the packet came from
    assert drain(peers["mirror"]) == [frames[2]]
    assert worker.ports["inside"].rx == 3 and worker.ports["outside"].tx == 1


def test_frames_for_the_hosts_own_mac_are_left_to_the_kernel_unless_asked():
    vnf = Steering()
    for pass_host_frames, expected in ((False, 0), (True, 1)):
        worker, peers = make_worker(vnf, pass_host_frames)
        frame = OWN_MAC + udp("10.0.0.1", 9, "10.0.0.2", 1)[6:]
        worker.dispatch(worker.ports["inside"], [frame], now=1.0)
        assert len(drain(peers["outside"])) == expected
        assert worker.ports["inside"].host_frames == 1 - expected


def test_stats_file_holds_ports_and_vnf_counters(tmp_path):
    import json

    worker, _peers = make_worker(Steering())
    worker.stats_path = tmp_path / "stats-w0.json"
    worker.dispatch(worker.ports["inside"], [udp("10.0.0.1", 9, "10.0.0.2", 1)], now=1.0)
    worker.write_stats()
    stats = json.loads(worker.stats_path.read_text())
    assert stats["ports"]["outside"]["tx"] == 1 and stats["counters"]["forwarded"] == 1


def test_offload_requests_are_written_as_json_lines(tmp_path):
    import json

    class Offloading(VNF):
        def handle(self, packet):
            self.offload(packet)
            return forward()

    worker, _peers = make_worker(Offloading())
    worker.offload_path = tmp_path / "offload.jsonl"
    worker.dispatch(worker.ports["inside"], [udp("10.0.0.1", 9, "10.0.0.2", 53)], now=1.0)
    (request,) = [json.loads(line) for line in worker.offload_path.read_text().splitlines()]
    assert request == {
        "vnf": "vnf",
        "action": "bypass",
        "proto": 17,
        "src": "10.0.0.1",
        "sport": 9,
        "dst": "10.0.0.2",
        "dport": 53,
    }
