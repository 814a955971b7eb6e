"""The built-in controller's REST and OpenFlow ports hold under bad input, load and stalling peers.

A real controller process (the built-in app with ofctl_rest) on localhost, fake switches from
``sdnlab.controller.fakeswitch`` and plain sockets; no root needed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import socket
import statistics
import threading
import time

import pytest

from sdnlab.controller import fakeswitch as fk
from sdnlab.controller.process import ControllerProcess

OF_PORT, REST_PORT = 6791, 8191
FAST_TIMEOUTS = (
    "--ofp-message-timeout",
    "1",
    "--ofp-handshake-timeout",
    "4",
    "--ofp-max-connections-per-client",
    "40",
)


@pytest.fixture(scope="module")
def controller():
    with ControllerProcess(
        ["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, extra_args=FAST_TIMEOUTS
    ) as ctl:
        switches = fk.FakeSwitchesThread([1]).start("127.0.0.1", OF_PORT)
        yield ctl
        switches.stop()


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
    """Everything the server sends until it closes (or goes quiet for a second)."""
    sock.settimeout(1)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks).decode("utf-8", "replace")


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
    newcomer = fk.FakeSwitchesThread([0x77]).start("127.0.0.1", OF_PORT)
    try:
        deadline = time.monotonic() + 5
        while newcomer.switches[0].counters.flow_mods < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert newcomer.switches[0].counters.flow_mods >= 5  # reset, discovery, quarantine drops
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


def test_fifty_concurrent_clients_are_all_served(controller):
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", REST_PORT, timeout=10)
        for _ in range(20):
            started = time.perf_counter()
            try:
                conn.request("GET", "/stats/flow/1")
                reply = conn.getresponse()
                body = reply.read()
                ok = reply.status == 200 and "1" in json.loads(body)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                ok, body = False, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", REST_PORT, timeout=10)
            with lock:
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors.append(body[:100].decode("utf-8", "replace"))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(latencies) == 1000
    assert statistics.quantiles(latencies, n=100)[98] < 1.0  # the bench measures the real figure


# -- item 4: bounded read time, size and connections ---------------------------------------


def test_half_sent_requests_are_closed_and_others_still_served(controller):
    stalled = []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", REST_PORT), timeout=15)
        sock.sendall(b"GET /stats/switches HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        stalled.append(sock)
    started = time.monotonic()
    assert request("GET", "/stats/switches")[0] == 200
    assert time.monotonic() - started < 3
    for sock in stalled:
        data = sock.recv(4096)  # the server closes (after its 5 s read deadline), maybe with a 408
        assert data == b"" or data.startswith(b"HTTP/1.1 408")
        sock.close()
    assert time.monotonic() - started < 9


def test_one_address_cannot_hold_more_than_its_connection_quota(controller):
    held = [socket.create_connection(("127.0.0.1", REST_PORT), timeout=10) for _ in range(100)]
    try:
        refused = 0
        for sock in held[90:]:
            sock.settimeout(2)
            try:
                if sock.recv(4096).startswith(b"HTTP/1.1 503"):
                    refused += 1
            except TimeoutError:
                pass
        assert refused == 4  # 96 admitted
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert request("GET", "/stats/switches")[0] == 200


async def _stall_openflow(payload: bytes) -> float:
    """Seconds until the controller closes a connection that sent ``payload`` and then stalls."""
    reader, writer = await asyncio.open_connection("127.0.0.1", OF_PORT)
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    try:
        while await asyncio.wait_for(reader.read(4096), 10):
            pass
        return time.monotonic() - started
    finally:
        writer.close()


def test_partial_openflow_messages_and_stalled_handshakes_are_closed(controller):
    async def scenario():
        partial = fk.hello() + fk.ofp_header(fk.OFPT_ECHO_REQUEST, 64, 9)  # header says 64, 8 sent
        return await asyncio.gather(
            *(_stall_openflow(partial) for _ in range(20)), _stall_openflow(b""), _stall_openflow(fk.hello())
        )

    waited = asyncio.run(scenario())
    assert all(seconds < 3.0 for seconds in waited[:20])  # message timeout 1 s
    assert all(3.9 < seconds < 7.0 for seconds in waited[20:])  # handshake timeout 4 s
    assert "1" in request("GET", "/stats/switches")[1].__str__()


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
    deadline = time.monotonic() + 20
    while True:
        newcomer = fk.FakeSwitchesThread([0x45])
        try:
            newcomer.start("127.0.0.1", OF_PORT, timeout=3)
            break
        except TimeoutError:  # refused: closed before its handshake
            assert time.monotonic() < deadline, "no new switch admitted 20 s after the others closed"
        finally:
            newcomer.stop()


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
        await asyncio.wait_for(first.ready.wait(), 5)
        impostor = fk.FakeSwitch(0x99)
        await impostor.connect("127.0.0.1", OF_PORT)
        await asyncio.wait_for(impostor.closed.wait(), 5)  # refused: the first one answers
        refused = not impostor.ready.is_set() and not first.closed.is_set()
        first.mute = True  # now the first one looks dead
        successor = fk.FakeSwitch(0x99)
        await successor.connect("127.0.0.1", OF_PORT)
        await asyncio.wait_for(successor.ready.wait(), 5)
        taken_over = not successor.closed.is_set()
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
