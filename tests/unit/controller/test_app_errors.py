"""A failing or hanging event handler is recorded as JSON Lines naming the app's own file and line.

The runner runs as a subprocess with ``SDNLAB_APP_ERRORS`` set; a fake OpenFlow switch sends
packet-ins to a trainee-style app whose ``packet_in`` raises (or sleeps). Without the variable
nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections.abc import Callable

from sdnlab.controller import app_errors
from sdnlab.controller.fakeswitch import FakeSwitch, ethernet_frame, mac_bytes, until
from sdnlab.controller.process import ControllerProcess

BROKEN_APP = textwrap.dedent(
    """\
    from ryu.base import app_manager
    from ryu.controller import ofp_event
    from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
    from ryu.ofproto import ofproto_v1_3


    class L2Switch(app_manager.RyuApp):
        OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

        def lookup(self, msg):
            return msg.no_such_field

        @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
        def packet_in(self, ev):
            if ev.msg.match["in_port"] == 3:
                import time
                time.sleep(3)
                return
            self.lookup(ev.msg)
    """
)


async def send_packet_ins(port: int, in_ports: list[int], handled: Callable[[], bool]) -> None:
    """Packet-ins on ``in_ports`` once in the main phase; returns when ``handled()`` (10 s at most)."""
    switch = FakeSwitch(dpid=7)
    await switch.connect("127.0.0.1", port)
    await asyncio.wait_for(switch.main.wait(), 10)
    for n, in_port in enumerate(in_ports):
        switch.packet_in(in_port, ethernet_frame(mac_bytes(2), mac_bytes(n + 10)))
    await switch.drain()
    await until(handled, 10)
    await switch.close()


def run_app(tmp_path, port, in_ports, env, handled: Callable[[str], bool]):
    """Run the broken app, send the packet-ins and stop the controller once ``handled(its output)``."""
    app = tmp_path / "l2_switch.py"
    app.write_text(BROKEN_APP)
    with ControllerProcess([str(app)], port, env=env) as ctl:
        asyncio.run(send_packet_ins(port, in_ports, lambda: handled(ctl.output())))
        ctl.stop()
        output = ctl.output()
    return app, output


def failures_logged(count: int) -> Callable[[str], bool]:
    """The event loop logged ``count`` failures of ``packet_in`` (each one after it was recorded)."""
    return lambda output: output.count("handler packet_in failed on EventOFPPacketIn") >= count


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_exception_in_a_handler_is_recorded_with_the_apps_line_and_a_count(tmp_path):
    errors = tmp_path / "errors.jsonl"
    app, output = run_app(tmp_path, 6791, [1] * 12, {"SDNLAB_APP_ERRORS": str(errors)}, failures_logged(12))
    found = records(errors)
    assert found, output
    first, last = found[0], found[-1]
    assert first["kind"] == "exception" and first["count"] == 1
    assert (first["app"], first["handler"], first["exc_type"]) == ("L2Switch", "packet_in", "AttributeError")
    assert "no_such_field" in first["message"]
    assert (first["file"], first["line"]) == (str(app), 11)  # inside lookup(), the innermost app frame
    assert last["count"] == 12  # the final count is flushed when the controller stops
    assert isinstance(first["time"], float) and abs(first["time"] - time.time()) < 60


def test_a_handler_that_does_not_return_is_recorded_as_a_hang(tmp_path):
    errors = tmp_path / "errors.jsonl"
    env = {"SDNLAB_APP_ERRORS": str(errors), "SDNLAB_APP_HANG_S": "1"}
    app, output = run_app(
        tmp_path, 6792, [3], env, lambda _: errors.exists() and '"hang"' in errors.read_text()
    )
    hangs = [r for r in records(errors) if r["kind"] == "hang"]
    assert len(hangs) == 1, output
    assert hangs[0]["handler"] == "packet_in" and hangs[0]["message"] == "handler did not return for 1 s"
    assert (hangs[0]["file"], hangs[0]["line"]) == (str(app), 17)  # the time.sleep line


def test_without_the_variable_nothing_is_wrapped_or_written(tmp_path):
    assert app_errors.install({}) is None
    _, output = run_app(tmp_path, 6793, [1], {"SDNLAB_APP_ERRORS": ""}, failures_logged(1))
    assert "AttributeError" in output  # still logged as before
    assert not list(tmp_path.glob("*.jsonl"))
