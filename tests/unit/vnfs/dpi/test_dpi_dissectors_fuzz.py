"""Every dissector answers Match, More or None for any bytes in any context: it never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab.vnfs.dpi.model import Context, Match, More
from sdnlab.vnfs.dpi.protocols import DISSECTORS

# Payloads that start like real protocol messages, so the fuzzing reaches past the first check.
PREFIXES = [
    b"",
    b"\x16\x03\x01",
    b"\x16\x03\x03\x00\x40\x02",
    b"GET / HTTP/1.1\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"SSH-2.0-",
    b"220 ",
    b"\xff\xfb",
    b"\x10\x20\x00\x04MQTT\x05",
    b"\x30",
    b"\x40\x01",
    b"AMQP",
    b"\x01\x00\x00",
    b"\x00\x00\x00\x00\x00\x06",
    b"\x05\x64",
    b"\x68\x04",
    b"\x7e\xa0",
    b"\x00\x01\x00\x10",
    b"<13>",
    b"\x23",
    b"\x80\x00",
    b"\xc3\x00\x00\x00\x01\x08",
    b"\x0d" + b"\x01" * 8 + b"Q035",
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00",
]

contexts = st.builds(
    Context,
    transport=st.sampled_from([6, 17]),
    from_client=st.booleans(),
    client_port=st.integers(0, 65535),
    server_port=st.sampled_from([0, 21, 23, 53, 80, 123, 443, 502, 1883, 2404, 4059, 5683, 20000, 40000]),
    index=st.integers(0, 20),
    scratch=st.none(),
    stream=st.binary(max_size=64),
)


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(range(len(DISSECTORS))),
    st.lists(
        st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=300), st.booleans()), min_size=1, max_size=4
    ),
    contexts,
)
def test_detect_never_raises(index, packets, ctx):
    """A sequence of payloads, each call getting back the scratch the dissector itself returned."""
    scratch = None
    for position, (prefix, tail, from_client) in enumerate(packets):
        payload = prefix + tail
        call = ctx._replace(
            from_client=from_client,
            index=position,
            scratch=scratch,
            stream=payload + ctx.stream if ctx.transport == 6 else payload,
        )
        result = DISSECTORS[index].detect(payload, call)
        assert result is None or isinstance(result, (Match, More))
        if not isinstance(result, More):
            if isinstance(result, Match):
                assert isinstance(result.app, str) and isinstance(result.metadata, dict)
            return
        scratch = result.scratch


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(range(len(DISSECTORS))),
    st.sampled_from(PREFIXES),
    st.binary(max_size=300),
    contexts,
    st.dictionaries(
        st.sampled_from(["_login", "_typed", "method", "status", "client"]),
        st.sampled_from(["wait", "typing", "x", "ro"]),
    ),
)
def test_enrich_never_raises(index, prefix, tail, ctx, metadata):
    payload = prefix + tail
    ctx = ctx._replace(stream=payload)
    new, done = DISSECTORS[index].enrich(payload, ctx, metadata)
    assert isinstance(new, dict) and isinstance(done, bool)
