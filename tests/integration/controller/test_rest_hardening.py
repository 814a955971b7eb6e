"""The built-in controller's REST and OpenFlow ports hold under bad input, load and stalling peers.

A real controller process (the built-in app with ofctl_rest) on localhost, fake switches from
``sdnlab.controller.fakeswitch`` and plain sockets; no root needed.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import random
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from sdnlab.controller import fakeswitch as fk
from sdnlab.controller.process import ControllerProcess

OF_PORT, REST_PORT = 6791, 8191
MESSAGE_TIMEOUT_S, HANDSHAKE_TIMEOUT_S = 1, 4  # short, so the stalling peers are dropped quickly
ECHO_CHECK_S = 5  # long, so a loaded machine's live switch answers in time (the default is 1 s)
READ_DEADLINE_S = 5  # the REST server's (RestLimits.read_deadline_s)
FAST_TIMEOUTS = (
    "--ofp-message-timeout",
    str(MESSAGE_TIMEOUT_S),
    "--ofp-handshake-timeout",
    str(HANDSHAKE_TIMEOUT_S),
    "--ofp-echo-check-timeout",
    str(ECHO_CHECK_S),
    "--ofp-max-connections-per-client",
    "40",
)


SWITCH_ONE = """
import sys
from sdnlab.controller import fakeswitch as fk
switches = fk.FakeSwitchesThread([1]).start("127.0.0.1", int(sys.argv[1]), timeout=20)
print("ready", flush=True)
sys.stdin.read()  # until the test closes it
switches.stop()
"""


@pytest.fixture(scope="module")
def controller():
    with ControllerProcess(
        ["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, extra_args=FAST_TIMEOUTS
    ) as ctl:
        # switch 1 answers from a process of its own: its answers to the stats requests do not
        # wait for the GIL behind this process's client threads
        switch = subprocess.Popen(
            [sys.executable, "-c", SWITCH_ONE, str(OF_PORT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert switch.stdout is not None and switch.stdout.readline() == "ready\n"
            yield ctl
        finally:
            if switch.stdin is not None:
                switch.stdin.close()
            try:
                switch.wait(10)
            except subprocess.TimeoutExpired:
                switch.kill()
                switch.wait()


def request(method: str, path: str, body: bytes | None = None, headers=None, port: int = REST_PORT):
    """(status, parsed JSON or raw text) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        reply = conn.getresponse()
        raw = reply.read()
    finally:
        conn.close()
    try:
        return reply.status, json.loads(raw) if raw else None
    except ValueError:
        return reply.status, raw.decode("utf-8", "replace")


def read_answer(sock: socket.socket) -> str:
    """One HTTP answer: its headers and the body its Content-Length announces, or all until the close.

    Waits up to 15 s for each part (an answer comes late on a busy machine); what arrived by then
    is returned, so a missing answer fails the caller's assert showing what did arrive.
    """
    sock.settimeout(15)
    data = b""
    try:
        while not _complete(data) and (chunk := sock.recv(65536)):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data.decode("utf-8", "replace")


def _complete(answer: bytes) -> bool:
    head, blank, body = answer.partition(b"\r\n\r\n")
    if not blank:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value)
    return False  # no length announced: the answer ends when the server closes


def eventually(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass (for what a busy machine does late)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def quiet(sock: socket.socket) -> bool:
    """True if nothing (no data, no close) has arrived on ``sock`` yet."""
    return not select.select([sock], [], [], 0)[0]


def quarantined():
    return request("GET", "/sdnlab/quarantine")[1]["quarantined"]


# -- item 1: a refused request changes nothing --------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ip": "abc"}, "ip"),
        ({"mac": "abc"}, "mac"),
        ({"ip": "\u0000"}, "ip"),
        ({"ip": "1" * 400}, "ip"),
        ({"ip": "10.0.0.1", "reason": {"a": 1}}, "reason"),
    ],
)
def test_a_bad_quarantine_is_a_400_naming_the_field_and_changes_nothing(controller, body, field):
    before = quarantined()
    status, answer = request("POST", "/sdnlab/quarantine", json.dumps(body).encode())
    assert status == 400 and answer["error"].startswith(f"{field}:")
    assert quarantined() == before


def test_after_refused_requests_a_connecting_switch_still_gets_its_flows(controller):
    for body in ({"ip": "abc"}, {"mac": "zz"}):
        request("POST", "/sdnlab/quarantine", json.dumps(body).encode())
    assert request("DELETE", "/sdnlab/quarantine/abc")[0] == 404
    status, entry = request("POST", "/sdnlab/quarantine", b'{"ip": "10.0.0.77", "reason": "test"}')
    assert status == 200 and entry["ip"] == "10.0.0.77"
    newcomer = fk.FakeSwitchesThread([0x77]).start("127.0.0.1", OF_PORT, timeout=20)
    try:
        counters = newcomer.switches[0].counters
        assert eventually(lambda: counters.flow_mods >= 5, 20)  # reset, discovery, quarantine drops
    finally:
        newcomer.stop()
    assert request("DELETE", "/sdnlab/quarantine/10.0.0.77")[0] == 200
    assert quarantined() == []


# -- item 2: every bad request gets a 4xx naming the problem -------------------------------

NESTED = b'{"a":' * 5000 + b"1" + b"}" * 5000


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/stats/%ff", None, 400, "path: not valid UTF-8"),
        ("OPTIONS", "/stats/%ff", None, 404, "no such resource"),  # cheroot keeps an OPTIONS path quoted
        ("POST", "/stats/flow/1", NESTED, 400, "nested deeper"),
        ("POST", "/sdnlab/quarantine", NESTED, 400, "nested deeper"),
        ("POST", "/sdnlab/offload", NESTED, 400, "nested deeper"),
        ("POST", "/stats/flowentry/add", b'{"dpid":1,"actions":[{"type":{"a":1}}]}', 400, "actions[0].type"),
        ("POST", "/stats/flowentry/add", b'{"dpid":1,"match":{"in_port":[1]}}', 400, "match.in_port"),
        ("POST", "/stats/flowentry/add", b"\xff\xfe", 400, "not UTF-8"),
        ("PUT", "/stats/flow/1", None, 405, "allowed: GET, POST"),
        ("GET", "/nothing/here", None, 404, "no such resource"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(controller, method, path, body, status, words):
    got, answer = request(method, path, body)
    assert got == status and words in answer["error"], answer
    assert "Traceback" not in answer["error"] and "TypeError" not in answer["error"]


def test_a_body_over_one_mib_is_refused_before_it_is_read(controller):
    with socket.create_connection(("127.0.0.1", REST_PORT), timeout=10) as sock:
        sock.sendall(b"POST /stats/flow/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{")
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 413")


def test_a_chunked_body_over_one_mib_is_a_413(controller):
    chunk = b"x" * 100_000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", REST_PORT), timeout=10) as sock:
        sock.sendall(
            b"POST /sdnlab/quarantine HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
        )
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 413") and "larger than 1048576 bytes" in answer


def test_head_on_an_undecodable_path_is_a_400(controller):
    assert request("HEAD", "/stats/%ff")[0] == 400


def test_a_body_shorter_than_its_content_length_is_a_400(controller):
    with socket.create_connection(("127.0.0.1", REST_PORT), timeout=10) as sock:
        sock.sendall(b'POST /sdnlab/quarantine HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"ip":')
        sock.shutdown(socket.SHUT_WR)
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 400") and "shorter than its Content-Length" in answer


def _fuzz_body(rng: random.Random) -> bytes | None:
    values = [
        1,
        -1,
        0,
        2**70,
        "x",
        "",
        "\u0000",
        "10.0.0.1",
        "aa:bb:cc:dd:ee:ff",
        None,
        True,
        [],
        {},
        [1],
        {"a": 1},
    ]
    keys = [
        "dpid",
        "ip",
        "mac",
        "host",
        "match",
        "actions",
        "type",
        "port",
        "priority",
        "table_id",
        "vnf",
        "flow",
        "buckets",
        "bands",
        "meter_id",
        "group_id",
        "flags",
        "reason",
        "in_port",
        "field",
        "value",
    ]

    def value(depth: int):
        choice = rng.random()
        if depth < 4 and choice < 0.25:
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 4 and choice < 0.4:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(values)

    kind = rng.random()
    if kind < 0.15:
        return None
    if kind < 0.25:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
    text = json.dumps({rng.choice(keys): value(0) for _ in range(rng.randint(0, 5))})
    if kind < 0.35:
        text = text[: rng.randint(0, len(text))]
    return text.encode()


def _fuzz_path(rng: random.Random) -> str:
    segment = rng.choice(
        [
            "1",
            "0x1",
            "2",
            "-1",
            "abc",
            "%ff",
            "%00",
            "99999999999999999999999",
            "ALL",
            "",
            "10.0.0.1",
            "h1",
            "0000000000000001",
            "%2e%2e",
            "add",
            "delete",
            "modify_strict",
        ]
    )
    template = rng.choice(
        [
            "/stats/switches",
            "/stats/desc/{}",
            "/stats/flow/{}",
            "/stats/aggregateflow/{}",
            "/stats/port/{}",
            "/stats/port/1/{}",
            "/stats/group/{}",
            "/stats/meter/{}",
            "/stats/flowentry/{}",
            "/stats/flowentry/clear/{}",
            "/stats/groupentry/{}",
            "/stats/meterentry/{}",
            "/sdnlab/status",
            "/sdnlab/quarantine",
            "/sdnlab/quarantine/{}",
            "/sdnlab/offload",
            "/sdnlab/path/{}/{}",
            "/v1.0/topology/switches/{}",
            "/v1.0/topology/links/{}",
            "/{}",
            "/stats/{}",
        ]
    )
    return template.replace("{}", segment)


def test_fuzzed_requests_never_get_a_5xx(controller):
    rng = random.Random(12)
    failures = []
    for _ in range(400):
        method = rng.choice(["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"])
        path, body = _fuzz_path(rng), _fuzz_body(rng)
        status, answer = request(method, path, body)
        if status >= 500 or (
            status >= 400 and method != "HEAD" and not (isinstance(answer, dict) and answer.get("error"))
        ):
            failures.append((method, path, body[:80] if body else body, status, answer))
    request("DELETE", "/stats/flowentry/clear/1")
    assert failures == []


def _structured_change(rng: random.Random) -> tuple[str, dict]:
    """A flow/group/meter change for switch 1 that is well-shaped, with values drawn from edge cases."""
    from sdnlab.controller.ofctl_values import ACTION_TYPES, MATCH_FIELDS

    edge = [
        0,
        1,
        6,
        17,
        80,
        255,
        4095,
        4096,
        65535,
        65536,
        2**32,
        -1,
        "0x10",
        "ALL",
        "CONTROLLER",
        "10.0.0.1",
        "10.0.0.0/24",
        "aa:bb:cc:dd:ee:ff",
        "fe80::1",
        "1/0xff",
        "",
        None,
        [],
        {},
        True,
    ]

    def pick():
        return rng.choice(edge) if rng.random() < 0.3 else rng.choice([0, 1, 2, 3, 10])

    def action() -> dict:
        item: dict = {"type": rng.choice(sorted(ACTION_TYPES))}
        for name in rng.sample(
            [
                "port",
                "field",
                "value",
                "group_id",
                "table_id",
                "ethertype",
                "queue_id",
                "meter_id",
                "metadata",
                "mpls_ttl",
                "nw_ttl",
                "actions",
                "max_len",
            ],
            2,
        ):
            item[name] = pick() if name != "field" else rng.choice(sorted(MATCH_FIELDS))
        return item

    kind = rng.choice(["flowentry", "groupentry", "meterentry"])
    body: dict = {"dpid": 1}
    if kind == "flowentry":
        body["match"] = {name: pick() for name in rng.sample(sorted(MATCH_FIELDS), rng.randint(0, 3))}
        body["actions"] = [action() for _ in range(rng.randint(0, 3))]
        for name in rng.sample(["priority", "table_id", "idle_timeout", "cookie", "flags", "buffer_id"], 2):
            body[name] = pick()
    elif kind == "groupentry":
        body.update(
            type=rng.choice(["ALL", "SELECT", "FF", "INDIRECT", "X"]),
            group_id=pick(),
            buckets=[{"weight": pick(), "watch_port": pick(), "actions": [action()]}],
        )
    else:
        body.update(
            meter_id=pick(),
            flags=rng.choice(["KBPS", ["PKTPS", "BURST"], "X", 1]),
            bands=[
                {
                    "type": rng.choice(["DROP", "DSCP_REMARK", "X"]),
                    "rate": pick(),
                    "burst_size": pick(),
                    "prec_level": pick(),
                }
            ],
        )
    return f"/stats/{kind}/{rng.choice(['add', 'modify', 'delete', 'modify_strict'])}", body


def test_well_shaped_changes_with_edge_values_never_get_a_5xx(controller):
    rng = random.Random(7)
    failures = []
    for _ in range(300):
        path, body = _structured_change(rng)
        status, answer = request("POST", path, json.dumps(body).encode())
        if status >= 500 or (status >= 400 and "Error" in str(answer)):
            failures.append((path, body, status, answer))
    request("DELETE", "/stats/flowentry/clear/1")
    assert failures == []


# -- item 3: 50 concurrent clients --------------------------------------------------------


def _lists_the_table_miss_flow(body: bytes) -> bool:
    """The fake switch's whole flow table, as its stats reply gave it.

    An empty list is the answer of a stats request the switch did not answer within the
    controller's stats timeout: a request that timed out is an error here.
    """
    flows = json.loads(body)
    return list(flows) == ["1"] and [(f["priority"], f["match"]) for f in flows["1"]] == [(0, {})]


def test_fifty_concurrent_clients_are_all_served(controller):
    # every answer complete and correct; how fast is bench/controller/rest_load.py's question
    answered: list[bool] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", REST_PORT, timeout=30)
        for _ in range(20):
            try:
                conn.request("GET", "/stats/flow/1")
                reply = conn.getresponse()
                body = reply.read()
                ok = reply.status == 200 and _lists_the_table_miss_flow(body)
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
                ok, body = False, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", REST_PORT, timeout=30)
            with lock:
                answered.append(ok)
                if not ok:
                    errors.append(body[:200].decode("utf-8", "replace"))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert errors == []
    assert len(answered) == 1000, f"{sum(t.is_alive() for t in threads)} clients still waiting after 300 s"


# -- item 4: bounded read time, size and connections ---------------------------------------


def test_half_sent_requests_are_closed_and_others_still_served(controller):
    stalled: list[tuple[socket.socket, float]] = []
    for _ in range(30):
        opened = time.monotonic()  # the server's read deadline starts later: at its accept at the earliest
        sock = socket.create_connection(("127.0.0.1", REST_PORT), timeout=30)
        sock.sendall(b"GET /stats/switches HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        stalled.append((sock, opened))
    assert request("GET", "/stats/switches")[0] == 200
    # answered while all 30 still hold their connections (a server whose workers they held would
    # answer only once its read deadline had closed some of them)
    assert [quiet(sock) for sock, _ in stalled] == [True] * 30
    for sock, opened in stalled:
        data = sock.recv(4096)  # the server closes (after its 5 s read deadline), maybe with a 408
        closed_after = time.monotonic() - opened
        sock.close()
        assert data == b"" or data.startswith(b"HTTP/1.1 408")
        assert READ_DEADLINE_S - 0.1 < closed_after < READ_DEADLINE_S + 10  # by the deadline, not before


def _refused_of_a_burst(count: int) -> list[int]:
    """Open ``count`` REST connections one after another: the indexes of those refused with a 503."""
    held = [socket.create_connection(("127.0.0.1", REST_PORT), timeout=15) for _ in range(count)]
    try:
        # the server decides in the order it accepts, and answers a refused connection at once:
        # once the last one is answered (or, admitted, stays silent), every answer has arrived
        try:
            held[-1].recv(1, socket.MSG_PEEK)
        except TimeoutError:
            pass
        return [
            index
            for index, sock in enumerate(held)
            if not quiet(sock) and sock.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 503"
        ]
    finally:
        for sock in held:
            sock.close()


def _switches_answered() -> bool:
    try:
        return request("GET", "/stats/switches")[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def test_one_address_cannot_hold_more_than_its_connection_quota(controller):
    # connections closed by earlier tests count until the server sees them close (late on a busy
    # machine): try again for a while; a server admitting more than 96, or never giving back
    # the quota, fails every try
    deadline = time.monotonic() + 40
    while (refused := _refused_of_a_burst(100)) != [96, 97, 98, 99] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert refused == [96, 97, 98, 99]  # 96 admitted
    # the quota is given back as the server sees these close
    assert eventually(_switches_answered, 20)


async def _stall_openflow(payload: bytes) -> tuple[int, float]:
    """(local port, seconds to its close) of a connection that sends ``payload`` and then stalls."""
    started = time.monotonic()  # before connecting: the controller's clocks start later
    reader, writer = await asyncio.open_connection("127.0.0.1", OF_PORT)
    port = writer.get_extra_info("sockname")[1]
    writer.write(payload)
    await writer.drain()
    try:
        while await asyncio.wait_for(reader.read(4096), 30):
            pass
        return port, time.monotonic() - started
    finally:
        writer.close()


def _drop_logged(controller: ControllerProcess, port: int, reason: str) -> bool:
    return f"dropped unidentified switch at 127.0.0.1:{port}: {reason}" in controller.output()


def test_partial_openflow_messages_and_stalled_handshakes_are_closed(controller):
    async def scenario():
        partial = fk.hello() + fk.ofp_header(fk.OFPT_ECHO_REQUEST, 64, 9)  # header says 64, 8 sent
        return await asyncio.gather(
            *(_stall_openflow(partial) for _ in range(20)), _stall_openflow(b""), _stall_openflow(fk.hello())
        )

    closed = asyncio.run(scenario())
    partial, no_handshake = closed[:20], closed[20:]
    # each closed by its timeout: not before it, not never, and for that reason (the partial
    # messages' connections have no handshake either, so the reason tells the two timeouts apart)
    assert all(MESSAGE_TIMEOUT_S - 0.1 < seconds < MESSAGE_TIMEOUT_S + 8 for _, seconds in partial), partial
    assert all(HANDSHAKE_TIMEOUT_S - 0.1 < seconds < HANDSHAKE_TIMEOUT_S + 8 for _, seconds in no_handshake)
    unfinished = f"a message left unfinished for {MESSAGE_TIMEOUT_S} s"
    assert eventually(lambda: all(_drop_logged(controller, port, unfinished) for port, _ in partial), 10)
    late = f"no handshake within {HANDSHAKE_TIMEOUT_S} s"
    assert eventually(lambda: all(_drop_logged(controller, port, late) for port, _ in no_handshake), 10)
    assert 1 in request("GET", "/stats/switches")[1]  # the fixture's switch stayed connected


def test_one_address_cannot_hold_more_openflow_connections_than_its_quota(controller):
    held = [socket.create_connection(("127.0.0.1", OF_PORT), timeout=5) for _ in range(45)]
    try:
        # an admitted connection is greeted with a HELLO; a refused one is closed without a word
        # (waiting for either, not a fixed time: both come late on a busy machine; an admitted
        # one is closed too once the 4 s handshake timeout passes, but only after its HELLO)
        refused = 0
        for sock in held:
            sock.settimeout(15)
            try:
                refused += sock.recv(1) == b""
            except ConnectionResetError:
                refused += 1
        assert refused >= 5  # the fixture's switch holds one of the 40
    finally:
        for sock in held:
            sock.close()
    # the quota is given back as the controller sees the closes (soon, later on a busy machine)
    deadline = time.monotonic() + 40
    for dpid in itertools.count(0x4500):  # a new dpid each try: no claim of an earlier try in the way
        if asyncio.run(_admitted(dpid)):
            break
        assert time.monotonic() < deadline, "no new switch admitted 40 s after the others closed"
        time.sleep(0.2)


async def _within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _admitted(dpid: int) -> bool:
    """Whether a fake switch claiming ``dpid`` finishes its handshake (a refused one is closed unanswered)."""
    switch = fk.FakeSwitch(dpid)
    await switch.connect("127.0.0.1", OF_PORT)
    ready = asyncio.ensure_future(switch.ready.wait())
    closed = asyncio.ensure_future(switch.closed.wait())
    try:
        await asyncio.wait([ready, closed], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        return switch.ready.is_set()
    finally:
        ready.cancel()
        closed.cancel()
        await switch.close()


# -- item 5: a dpid belongs to the first live connection ----------------------------------


class MuteSwitch(fk.FakeSwitch):
    """A fake switch that stops answering echo requests (as a dead peer would)."""

    mute = False

    def _handle(self, msg_type, xid, body):
        if self.mute and msg_type == fk.OFPT_ECHO_REQUEST:
            return
        super()._handle(msg_type, xid, body)


def test_a_second_connection_claiming_a_live_dpid_is_refused_but_a_dead_one_is_replaced(controller):
    async def scenario():
        first = MuteSwitch(0x99)
        await first.connect("127.0.0.1", OF_PORT)
        assert await _within(first.ready, 20)
        impostor = fk.FakeSwitch(0x99)
        await impostor.connect("127.0.0.1", OF_PORT)
        # refused once the first one answers the controller's echo request (it has ECHO_CHECK_S)
        closed = await _within(impostor.closed, ECHO_CHECK_S + 15)
        refused = closed and not impostor.ready.is_set() and not first.closed.is_set()
        first.mute = True  # now the first one looks dead
        successor = fk.FakeSwitch(0x99)
        await successor.connect("127.0.0.1", OF_PORT)
        # taken over once the controller has waited ECHO_CHECK_S in vain for the first one's answer
        taken_over = await _within(successor.ready, ECHO_CHECK_S + 15) and not successor.closed.is_set()
        for switch in (first, impostor, successor):
            await switch.close()
        return refused, taken_over

    assert asyncio.run(scenario()) == (True, True)


def test_with_a_token_file_every_request_needs_the_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-0123456789\n")
    token_file.chmod(0o600)
    with ControllerProcess(
        ["sdnlab.controller.apps.builtin"],
        OF_PORT + 1,
        REST_PORT + 1,
        extra_args=("--wsapi-token-file", str(token_file)),
    ):
        port = REST_PORT + 1
        assert request("GET", "/stats/switches", port=port)[0] == 401
        assert (
            request("GET", "/stats/switches", headers={"Authorization": "Bearer nope"}, port=port)[0] == 401
        )
        bearer = {"Authorization": "Bearer s3cret-token-0123456789"}
        assert request("GET", "/stats/switches", headers=bearer, port=port) == (200, [])
        header = {"X-Sdnlab-Token": "s3cret-token-0123456789"}
        assert request("POST", "/sdnlab/quarantine", b'{"ip":"abc"}', headers=header, port=port)[0] == 400
