"""A controller records its OpenFlow conversation to pcapng; it reads back, shows, and opens in tshark.

The runner (a subprocess) gets ``SDNLAB_OF_RECORD``; a fake OpenFlow 1.3 switch connects and
sends packet-ins to the project's ``ryu.app.simple_switch_13``.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdnlab.controller.fakeswitch import FakeSwitch, ethernet_frame, mac_bytes, until
from sdnlab.controller.process import ControllerProcess
from sdnlab.grader.replay import pcapng, show
from sdnlab.grader.replay.errors import ReplayError

REPO = Path(__file__).resolve().parents[3]


async def talk(port: int) -> None:
    """Two packet-ins, each sent once the controller answered what came before (up to 10 s a step)."""
    switch = FakeSwitch(dpid=0x2A, n_ports=3)
    counters = switch.counters
    await switch.connect("127.0.0.1", port)
    await asyncio.wait_for(switch.main.wait(), 10)
    await until(lambda: counters.flow_mods >= 1, 10)  # the app's table-miss flow
    switch.packet_in(1, ethernet_frame(b"\xff" * 6, mac_bytes(1)))  # broadcast from host 1: flood
    await switch.drain()
    await until(lambda: counters.packet_outs >= 1, 10)
    switch.packet_in(2, ethernet_frame(mac_bytes(1), mac_bytes(2)))  # reply to host 1: flow + out
    await switch.drain()
    await until(lambda: counters.flow_mods >= 2 and counters.packet_outs >= 2, 10)
    await switch.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "lab.pcapng"
    with ControllerProcess(["ryu.app.simple_switch_13"], 6794, env={"SDNLAB_OF_RECORD": str(path)}) as ctl:
        asyncio.run(talk(6794))
        ctl.stop()
    return path


def test_the_recording_holds_the_handshake_the_packet_ins_and_the_replies_with_the_dpid(recording):
    records = pcapng.read_conversation(recording)
    kinds = [(r.direction == pcapng.TO_CONTROLLER, r.msg_type) for r in records]
    assert (True, 6) in kinds and (False, 5) in kinds  # features request and reply
    packet_ins = [r for r in records if r.msg_type == 10]
    assert len(packet_ins) == 2 and all(r.dpid == 0x2A for r in packet_ins)
    assert records == sorted(records, key=lambda r: r.time)
    exchanges = show.exchanges(records)
    first, second = ([show.decode(r).split(" ")[0] for r in e.replies] for e in exchanges)
    assert first == ["PACKET_OUT"] and second == ["FLOW_MOD", "PACKET_OUT"]


def test_show_prints_packet_ins_and_their_replies_readably(recording):
    text = show.render(pcapng.read_conversation(recording))
    assert "dpid 000000000000002a -> app   PACKET_IN in_port=1 reason=no_match" in text
    assert "actions=output:FLOOD" in text
    assert "FLOW_MOD add table=0 priority=1 match=in_port=2,eth_dst=02:00:00:00:00:01," in text
    assert "=> PACKET_OUT in_port=2 actions=output:1" in text
    assert "actions=output:1  [simple_switch_13.py:" in text  # the app line that sent it
    assert "ECHO" not in text and "2 packet-ins" in text.splitlines()[-1]


def test_sdnlab_of_show_is_the_command_line_view(recording):
    result = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "of", "show", str(recording)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "PACKET_IN in_port=2" in result.stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_wireshark_decodes_the_file_as_openflow_13(recording):
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(recording),
            "-Y",
            "openflow_v4.type == 10",
            "-T",
            "fields",
            "-e",
            "openflow_v4.type",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10", "10"]
    checks = subprocess.run(
        ["tshark", "-r", str(recording), "-o", "tcp.check_checksum:TRUE", "-Y", "tcp.checksum.status == 0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checks.stdout.strip() == ""  # no bad TCP checksums


def test_messages_split_across_segments_are_reassembled():
    hello = bytes([4, 0, 0, 8, 0, 0, 0, 1])
    records = [pcapng.OFRecord(1.0, ("127.0.0.1", 40000), pcapng.TO_CONTROLLER, hello * 3, 7)]
    out = io.BytesIO()
    writer = pcapng.PcapngWriter(out)
    writer.write(records[0])
    path_bytes = out.getvalue()
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pcapng") as tmp:
        tmp.write(path_bytes)
        tmp.flush()
        read = pcapng.read_conversation(tmp.name)
    assert [r.data for r in read] == [hello] * 3 and read[0].dpid == 7


def test_a_file_that_is_not_a_capture_is_a_one_line_error(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a capture at all\n")
    with pytest.raises(ReplayError, match="not a pcapng or pcap file"):
        pcapng.read_conversation(bad)
    result = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "of", "show", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        result.returncode != 0
        and "not a pcapng or pcap file" in result.stderr
        and "Traceback" not in result.stderr
    )


def a_capture() -> bytes:
    hello = bytes([4, 0, 0, 8, 0, 0, 0, 1])
    out = io.BytesIO()
    pcapng.PcapngWriter(out).write(pcapng.OFRecord(1.0, ("127.0.0.1", 40000), pcapng.TO_CONTROLLER, hello, 7))
    return out.getvalue()


def sdnlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("cut", "block"), [(100, 80), (84, 80), (60, 44)]
)  # in a packet, its header, the interface
def test_a_truncated_capture_is_a_one_line_error_naming_the_file(tmp_path, cut, block):
    trunc = tmp_path / "trunc.pcapng"
    trunc.write_bytes(a_capture()[:cut])
    message = f"{trunc}: truncated pcapng block at byte {block}"
    with pytest.raises(ReplayError) as caught:
        pcapng.read_conversation(trunc)
    assert str(caught.value) == message
    result = sdnlab("of", "show", str(trunc))
    assert result.returncode == 2 and result.stderr.strip() == f"sdnlab: error: {message}"


def test_a_block_too_short_for_its_fields_is_an_error_naming_the_file(tmp_path):
    data = bytearray(a_capture())
    shb_len = int.from_bytes(data[4:8], "little")
    short_idb = (1).to_bytes(4, "little") + (12).to_bytes(4, "little") + (12).to_bytes(4, "little")
    broken = tmp_path / "short.pcapng"
    broken.write_bytes(bytes(data[:shb_len]) + short_idb + bytes(40))
    with pytest.raises(ReplayError, match=rf"^{broken}: damaged capture"):
        pcapng.read_conversation(broken)
    missing = tmp_path / "nowhere.pcapng"
    with pytest.raises(ReplayError, match=rf"^{missing}: cannot read"):
        pcapng.read_conversation(missing)


def test_a_conversation_is_written_into_a_folder_that_does_not_exist_yet(tmp_path):
    records = pcapng.read_conversation(_write(tmp_path / "one.pcapng", a_capture()))
    target = tmp_path / "new" / "deeper" / "conv.pcapng"
    pcapng.write_conversation(target, records)
    assert [r.data for r in pcapng.read_conversation(target)] == [r.data for r in records]
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(ReplayError, match=rf"^{blocked}/conv.pcapng: cannot write|^{blocked}: cannot write"):
        pcapng.write_conversation(blocked / "conv.pcapng", records)


def test_of_replay_record_dir_is_created_or_named_in_a_one_line_error(tmp_path):
    lab = REPO / "labs" / "l2_learning"
    starter = str(lab / "starter" / "l2_switch.py")
    record_dir = tmp_path / "missing" / "records"
    made = sdnlab(
        "of", "replay", starter, "--lab", str(lab), "--port", "6888", "--record-dir", str(record_dir)
    )
    assert made.returncode == 1 and "Traceback" not in made.stderr, made.stderr
    assert sorted(p.name for p in record_dir.iterdir()) == ["learning.pcapng", "reconnect.pcapng"]
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    refused = sdnlab("of", "replay", starter, "--lab", str(lab), "--record-dir", str(blocked / "records"))
    assert refused.returncode == 2 and refused.stderr.strip() == (
        f"sdnlab: error: --record-dir {blocked / 'records'}: cannot create the folder: Not a directory"
    )


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
