"""A chain of VNFs in one process (kind ``chain``): the stages decide exactly as they would one
after the other on separate hosts, parse each frame once, and report per stage."""

from __future__ import annotations

import pytest

from sdnlab.vnfs.chains.vnf import ChainVNF
from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.vnfs.firewall.vnf import Firewall
from sdnlab.vnfs.framework.loader import load_vnf_class
from sdnlab.vnfs.framework.testing import tcp, udp
from sdnlab.vnfs.framework.verdict import Action
from sdnlab.vnfs.lb.vnf import LoadBalancer
from sdnlab.vnfs.packet import TCP_ACK, TCP_FIN, TCP_SYN, parse

FIREWALL = """
default: drop
rules:
  - {name: web, action: accept, proto: tcp, dport: 80}
  - {name: dns, action: accept, proto: udp, dport: 53}
  - {name: telnet, action: reject, proto: tcp, dport: 23}
"""

LB = """
vip: 10.0.0.100
vip_mac: "02:00:00:00:01:00"
port: 80
scheduler: round_robin
backends:
  - {name: web1, ip: 10.0.0.11, mac: "00:00:00:00:00:0b"}
  - {name: web2, ip: 10.0.0.12, mac: "00:00:00:00:00:0c", port: 8080}
"""


def indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.strip().splitlines())


CHAIN = f"""
stages:
  - kind: firewall
    name: fw
    config:
{indent(FIREWALL, 6)}
  - kind: dpi
  - kind: lb
    config:
{indent(LB, 6)}
"""


def chain(text: str = CHAIN, **kwargs) -> ChainVNF:
    return ChainVNF(text, **kwargs)


def separate():
    """The same three VNFs as separate objects, to run one after the other by hand."""
    return [Firewall(FIREWALL), load_vnf_class("dpi")(), LoadBalancer(LB)]


def one_by_one(vnfs, frame, in_port, now=1.0):
    """What a steered chain does: each VNF in turn (reversed for return traffic) on the frame it got."""
    order = vnfs if in_port == "inside" else vnfs[::-1]
    extra = []
    for vnf in order:
        verdict = vnf.process(frame, in_port, now)
        extra += list(verdict.extra)
        if verdict.action is not Action.FORWARD:
            return ("drop", verdict.reason, tuple(extra))
        frame = verdict.frame or frame
    return ("forward", frame, tuple(extra))


def outcome(verdict, frame):
    if verdict.action is not Action.FORWARD:
        return ("drop", verdict.reason, verdict.extra)
    return ("forward", verdict.frame or frame, verdict.extra)


def conversation():
    """Client traffic to the VIP (balanced, NATed), DNS, a telnet attempt and a stray port,
    with the server's answers coming back through the outside port."""
    frames = []
    for i, cport in enumerate((40001, 40002, 40003)):
        frames.append(("inside", tcp("10.1.0.1", cport, "10.0.0.100", 80, TCP_SYN)))
        backend, bport = (("10.0.0.11", 80), ("10.0.0.12", 8080))[i % 2]
        frames.append(("outside", tcp(backend, bport, "10.1.0.1", cport, TCP_SYN | TCP_ACK)))
        frames.append(
            (
                "inside",
                tcp("10.1.0.1", cport, "10.0.0.100", 80, TCP_ACK, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            )
        )
        frames.append(
            ("outside", tcp(backend, bport, "10.1.0.1", cport, TCP_ACK, b"HTTP/1.1 200 OK\r\n\r\n"))
        )
        frames.append(("inside", tcp("10.1.0.1", cport, "10.0.0.100", 80, TCP_FIN | TCP_ACK)))
    frames.append(
        (
            "inside",
            udp(
                "10.1.0.1",
                5353,
                "10.0.0.53",
                53,
                b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01",
            ),
        )
    )
    frames.append(("inside", tcp("10.1.0.9", 41000, "10.0.0.11", 23, TCP_SYN)))
    frames.append(("inside", tcp("10.1.0.9", 41001, "10.0.0.11", 8443, TCP_SYN)))
    frames.append(("inside", b"\x01\x02\x03"))  # not even an Ethernet header
    return frames


def test_a_chain_decides_every_frame_as_its_stages_would_one_after_the_other():
    combined, steered = chain(), separate()
    for in_port, frame in conversation():
        assert outcome(combined.process(frame, in_port, 1.0), frame) == one_by_one(steered, frame, in_port)
    for (name, stage), alone in zip(combined.stages, steered, strict=False):
        assert stage.counters == alone.counters, name


def test_the_load_balancer_stage_translates_and_the_reply_is_translated_back():
    vnf = chain()
    out = parse(vnf.process(tcp("10.1.0.1", 40001, "10.0.0.100", 80, TCP_SYN), "inside", 1.0).frame)
    assert (out.ip_dst_text, out.l4_dst) == ("10.0.0.11", 80)
    back = parse(
        vnf.process(tcp("10.0.0.11", 80, "10.1.0.1", 40001, TCP_SYN | TCP_ACK), "outside", 1.0).frame
    )
    assert (back.ip_src_text, back.l4_src) == ("10.0.0.100", 80)
    assert dict(vnf.stages)["fw"].stats()["connections"] == 1  # the firewall saw the client's view, both ways


def test_a_drop_stops_the_chain_and_the_reject_goes_back_out_of_the_ingress_port():
    vnf = chain()
    verdict = vnf.process(tcp("10.1.0.9", 41000, "10.0.0.11", 23, TCP_SYN), "inside", 1.0)
    assert verdict.action is Action.DROP
    [(port, reply)] = verdict.extra
    assert port is None and parse(reply).tcp_flags & 0x04  # a RST, sent back where the SYN came from
    stages = dict(vnf.stages)
    assert stages["dpi"].counters["packets"] == 0 and stages["lb"].counters["packets"] == 0
    assert vnf.counters["dropped"] == 1


def test_stats_nest_each_stage_under_its_name():
    vnf = chain()
    for in_port, frame in conversation():
        vnf.process(frame, in_port, 1.0)
    stats = vnf.stats()
    assert list(stats["stages"]) == ["fw", "dpi", "lb"]
    assert stats["stages"]["fw"]["rules"]["telnet"]["packets"] == 1
    assert stats["stages"]["lb"]["backends"]["web2"]["flows"] == 1
    assert stats["counters"]["packets"] == len(conversation())


def test_the_frame_is_parsed_once_for_every_stage(monkeypatch):
    import sdnlab.vnfs.chains.vnf as chain_module
    import sdnlab.vnfs.framework.base as base_module

    calls = []
    real = chain_module.parse
    monkeypatch.setattr(chain_module, "parse", lambda frame: calls.append(frame) or real(frame))
    monkeypatch.setattr(base_module, "parse", lambda frame: pytest.fail("a stage parsed the frame again"))
    vnf = chain(f"stages:\n  - kind: firewall\n    config:\n{indent(FIREWALL, 6)}\n  - kind: dpi\n")
    frame = udp("10.1.0.1", 5353, "10.0.0.53", 53)
    assert vnf.process(frame, "inside", 1.0).action is Action.FORWARD
    assert calls == [frame]


def test_a_reload_keeps_the_connections_of_the_running_stages(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(CHAIN)
    vnf = chain(path.read_text(), source=str(path))
    vnf.process(tcp("10.1.0.1", 40001, "10.0.0.100", 80, TCP_SYN), "inside", 1.0)
    firewall = dict(vnf.stages)["fw"]
    path.write_text(CHAIN.replace("dport: 53}", "dport: 5353}"))
    vnf.reload_file(str(path))
    assert dict(vnf.stages)["fw"] is firewall and firewall.stats()["connections"] == 1
    assert vnf.process(udp("10.1.0.1", 5353, "10.0.0.53", 53), "inside", 2.0).action is Action.DROP


def test_stage_settings_can_live_in_their_own_file_next_to_the_chain(tmp_path):
    (tmp_path / "fw.yaml").write_text(FIREWALL)
    (tmp_path / "chain.yaml").write_text("stages:\n  - {kind: firewall, config: fw.yaml}\n")
    vnf = chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"))
    assert (
        vnf.process(tcp("10.1.0.9", 41001, "10.0.0.11", 8443, TCP_SYN), "inside", 1.0).action is Action.DROP
    )


def test_a_researcher_stage_that_raises_follows_its_own_error_policy(tmp_path):
    (tmp_path / "broken.py").write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "class Broken(VNF):\n"
        "    on_handler_error = 'forward'\n"
        "    def handle(self, packet):\n"
        "        raise RuntimeError('oops')\n"
    )
    (tmp_path / "chain.yaml").write_text(
        "stages:\n  - {kind: broken.py}\n  - {kind: firewall, config: {default: accept}}\n"
    )
    vnf = chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"))
    assert vnf.process(udp("10.1.0.1", 1, "10.0.0.2", 2), "inside", 1.0).action is Action.FORWARD
    stages = dict(vnf.stages)
    assert stages["broken"].counters["handler_errors"] == 1
    assert stages["firewall"].counters["packets"] == 1  # the frame went on to the next stage


def test_return_traffic_meets_the_stages_in_reverse_order(tmp_path):
    (tmp_path / "tag.py").write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "SEEN = []\n"
        "class Tag(VNF):\n"
        "    def handle(self, packet):\n"
        "        SEEN.append((self.name, self.in_port))\n"
        "        return super().handle(packet)\n"
    )
    (tmp_path / "chain.yaml").write_text(
        "stages:\n  - {kind: tag.py, name: a}\n  - {kind: tag.py, name: b}\n"
    )
    vnf = chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"), name="c")
    vnf.process(udp("10.1.0.1", 1, "10.0.0.2", 2), "inside", 1.0)
    vnf.process(udp("10.0.0.2", 2, "10.1.0.1", 1), "outside", 1.0)
    import sys

    seen = sys.modules["sdnlab_user_vnf_tag"].SEEN
    assert seen == [("c/a", "inside"), ("c/b", "inside"), ("c/b", "outside"), ("c/a", "outside")]


def test_offload_requests_of_stages_are_counted_not_passed_on():
    vnf = chain("stages:\n  - kind: firewall\n    config: {default: accept, offload: true}\n")
    vnf.process(tcp("10.1.0.1", 40001, "10.0.0.2", 80, TCP_SYN), "inside", 1.0)
    vnf.process(tcp("10.0.0.2", 80, "10.1.0.1", 40001, TCP_SYN | TCP_ACK), "outside", 1.0)
    vnf.process(tcp("10.1.0.1", 40001, "10.0.0.2", 80, TCP_ACK), "inside", 1.0)
    vnf.tick(2.0)
    assert vnf.offload_requests == [] and vnf.counters["offload_ignored"] >= 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("{}", "stages: a chain needs at least one stage"),
        ("stages: [{kind: nosuch}]", "stages[0]: stage 'nosuch': unknown VNF kind 'nosuch'"),
        ("stages: [{kind: chain}]", "stages[0].kind: a chain cannot contain a chain"),
        ("stages: [{kind: dpi}, {kind: dpi}]", "two stages are named 'dpi'"),
        ("stages: [{kind: dpi, colour: red}]", "stages[0].colour: unknown setting"),
        ("stages: [{name: x}]", "stages[0].kind: is required"),
        (
            "stages:\n  - kind: lb\n    config: {port: 80}\n",
            "<config>:2: stages[0]: stage 'lb': <config>:3: backends: is required",
        ),
        ("stages: [{kind: firewall, config: missing.yaml}]", "missing.yaml: cannot read config"),
        ("stages: [{kind: firewall, config: 7}]", "config: expected a file name or a mapping"),
    ],
)
def test_config_errors_name_the_stage_and_the_line(text, message):
    with pytest.raises(VnfConfigError) as info:
        chain(text)
    assert message in str(info.value)


BOUNCE = (
    "from sdnlab.vnfs.framework import VNF\n"
    "from sdnlab.vnfs.framework.verdict import send_to\n"
    "class Bounce(VNF):\n"
    "    def handle(self, packet):\n"
    "        return send_to(self.in_port)\n"
)


@pytest.mark.parametrize("stages", [["bounce"], ["firewall", "bounce"]])
def test_a_stage_that_sends_out_of_another_port_ends_the_chain_there(tmp_path, stages):
    (tmp_path / "bounce.py").write_text(BOUNCE)
    lines = {
        "bounce": "  - {kind: bounce.py}\n",
        "firewall": "  - {kind: firewall, config: {default: accept}}\n",
    }
    (tmp_path / "chain.yaml").write_text(
        "stages:\n"
        + "".join(lines[s] for s in stages)
        + "  - {kind: firewall, name: after, config: {default: drop}}\n"
    )
    vnf = chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"))
    verdict = vnf.process(udp("10.1.0.1", 1, "10.0.0.2", 2), "inside", 1.0)
    assert verdict.action is Action.FORWARD and verdict.port == "inside"  # back where it came from
    assert dict(vnf.stages)["after"].counters["packets"] == 0
    assert (vnf.counters["forwarded"], vnf.counters["dropped"]) == (1, 0)


TICKERS = {
    "raisetick.py": "from sdnlab.vnfs.framework import VNF\n"
    "class RaiseTick(VNF):\n"
    "    def tick(self, now):\n"
    "        raise ValueError('tock')\n",
    "ticker.py": "from sdnlab.vnfs.framework import VNF\n"
    "class Ticker(VNF):\n"
    "    def tick(self, now):\n"
    "        self.count('ticks')\n"
    "        return []\n",
}


def ticking_chain(tmp_path) -> ChainVNF:
    for name, text in TICKERS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "chain.yaml").write_text("stages:\n  - {kind: raisetick.py}\n  - {kind: ticker.py}\n")
    return chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"), name="c")


def test_a_stage_whose_tick_raises_is_counted_and_logged_and_the_others_still_tick(tmp_path):
    vnf = ticking_chain(tmp_path)
    for now in (1.0, 2.0, 3.0):
        vnf.tick(now)
    stages = dict(vnf.stages)
    assert stages["raisetick"].counters["tick_errors"] == 3 and stages["ticker"].counters["ticks"] == 3
    [line, *_] = [e for e in stages["raisetick"].log.lines if e["event"] == "tick_error"]
    assert (line["vnf"], line["error"], line["at"]) == ("c/raisetick", "ValueError: tock", "raisetick.py:4")


def test_offline_a_stage_that_raises_stops_the_run_naming_the_stage_and_its_line(tmp_path):
    from sdnlab.vnfs.errors import VnfCodeError
    from sdnlab.vnfs.framework.offline import run_frames

    (tmp_path / "raiser.py").write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "class Raiser(VNF):\n"
        "    on_handler_error = 'forward'\n"
        "    def handle(self, packet):\n"
        "        return {}['missing']\n"
    )
    (tmp_path / "chain.yaml").write_text(
        "stages:\n  - {kind: firewall, config: {default: accept}}\n  - {kind: raiser.py}\n"
    )
    vnf = chain((tmp_path / "chain.yaml").read_text(), source=str(tmp_path / "chain.yaml"))
    with pytest.raises(VnfCodeError) as info:
        run_frames(vnf, [(1.0, udp("10.1.0.1", 1, "10.0.0.2", 2))])
    assert "raiser.py: stage 'raiser': packet 1 of the capture: handle() raised KeyError" in str(info.value)
    assert "raiser.py:5 in handle" in str(info.value)
    with pytest.raises(VnfCodeError) as info:
        run_frames(ticking_chain(tmp_path), [(1.0, udp("10.1.0.1", 1, "10.0.0.2", 2))])
    assert "raisetick.py: stage 'raisetick': tick() before packet 1" in str(info.value)
    assert "ValueError: tock at " in str(info.value) and "raisetick.py:4 in tick" in str(info.value)


def test_a_reload_runs_the_new_code_of_a_changed_stage_file_and_keeps_the_other_stages(tmp_path):
    mark = tmp_path / "mark.py"
    mark.write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "class Mark(VNF):\n"
        "    def handle(self, packet):\n"
        "        self.count('v1')\n"
        "        return super().handle(packet)\n"
    )
    path = tmp_path / "chain.yaml"
    path.write_text("stages:\n  - {kind: firewall, config: {default: accept}}\n  - {kind: mark.py}\n")
    vnf = chain(path.read_text(), source=str(path))
    vnf.process(tcp("10.1.0.1", 40001, "10.0.0.2", 80, TCP_SYN), "inside", 1.0)
    firewall, marker = dict(vnf.stages)["firewall"], dict(vnf.stages)["mark"]
    vnf.reload_file(str(path))  # nothing changed: the same stages go on
    assert dict(vnf.stages)["mark"] is marker and dict(vnf.stages)["firewall"] is firewall
    mark.write_text(mark.read_text().replace("'v1'", "'v2'"))
    vnf.reload_file(str(path))
    vnf.process(udp("10.1.0.1", 5353, "10.0.0.53", 53), "inside", 2.0)
    assert dict(vnf.stages)["mark"].counters.get("v2") == 1
    assert (
        dict(vnf.stages)["firewall"] is firewall and firewall.stats()["connections"] == 2
    )  # TCP kept, + UDP


@pytest.mark.parametrize(
    "text, only",
    [
        ("stages: foo", "<config>:1: stages: expected a list"),
        ("stages: [firewall]", "<config>:1: stages[0]: expected a mapping"),
    ],
)
def test_a_misshapen_stage_list_gets_one_error(text, only):
    with pytest.raises(VnfConfigError) as info:
        chain(text)
    assert str(info.value) == only


def test_a_chain_without_a_config_says_it_needs_one():
    with pytest.raises(VnfConfigError) as info:
        chain(None)
    assert "a chain needs at least one stage" in str(info.value) and "--config" in str(info.value)


def test_a_one_armed_chain_is_refused_because_it_could_not_tell_return_traffic():
    from sdnlab.vnfs.errors import VnfOptionError

    with pytest.raises(VnfOptionError, match="a chain VNF needs two ports, inside and outside \\(got arm\\)"):
        chain(CHAIN, ports=("arm",))


def test_a_rejected_config_closes_the_stages_it_had_already_built(tmp_path):
    (tmp_path / "tracked.py").write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "OPEN = []\n"
        "class Tracked(VNF):\n"
        "    def apply_config(self, cfg):\n"
        "        OPEN.append(self)\n"
        "    def close(self):\n"
        "        OPEN.remove(self)\n"
    )
    path = tmp_path / "chain.yaml"
    path.write_text("stages:\n  - {kind: tracked.py}\n")
    vnf = chain(path.read_text(), source=str(path))
    import sys

    still_open = sys.modules["sdnlab_user_vnf_tracked"].OPEN
    assert len(still_open) == 1
    path.write_text("stages:\n  - {kind: tracked.py}\n  - {kind: nosuch}\n")
    for _ in range(5):
        with pytest.raises(VnfConfigError):
            vnf.reload_file(str(path))
    assert len(still_open) == 1  # only the running stage; the five rejected builds were closed


def test_a_reload_checks_a_kept_stage_once_and_reports_its_code_failing_in_one_line(tmp_path):
    (tmp_path / "picky.py").write_text(
        "from sdnlab.vnfs.framework import VNF\n"
        "CHECKS = []\n"
        "class Picky(VNF):\n"
        "    def parse_config(self, fields):\n"
        "        CHECKS.append(self)\n"
        "        return {'limit': 1}['limit'] if fields.get('ok', bool, True) else {}['x']\n"
    )
    path = tmp_path / "chain.yaml"
    path.write_text("stages:\n  - {kind: picky.py}\n")
    vnf = chain(path.read_text(), source=str(path))
    import sys

    checks = sys.modules["sdnlab_user_vnf_picky"].CHECKS
    stage = dict(vnf.stages)["picky"]
    checks.clear()
    vnf.reload_file(str(path))
    assert checks == [stage]  # validated once, by the running stage; no throw-away instance built
    path.write_text("stages:\n  - {kind: picky.py, config: {ok: false}}\n")
    with pytest.raises(VnfConfigError) as info:
        vnf.reload_file(str(path))
    assert "stage 'picky': " in str(
        info.value
    ) and "setting it up with its config failed: KeyError: 'x'" in str(info.value)
    assert dict(vnf.stages)["picky"] is stage
