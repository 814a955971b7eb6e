"""sdnlab.textfile: one UTF-8 decoder and reader for every user file, with one-line errors."""

from __future__ import annotations

import pytest

from sdnlab.textfile import decode_text, read_text


class Boom(Exception):
    """A caller's own error class."""


def test_bad_byte_on_line_3_is_reported_at_line_3():
    data = b"one\ntwo\nthr\xffee\nfour\n"
    with pytest.raises(Boom) as caught:
        decode_text(data, "cfg.yaml", Boom)
    assert str(caught.value) == "cfg.yaml:3: not UTF-8 text (byte 0xff); save it as UTF-8"


def test_bad_byte_on_the_first_line_and_a_truncated_sequence_at_the_end():
    with pytest.raises(Boom, match=r"^a:1: not UTF-8 text \(byte 0x89\)"):
        decode_text(b"\x89PNG\r\n", "a", Boom)
    with pytest.raises(Boom, match=r"^b:2: not UTF-8 text \(byte 0xe3\)"):
        decode_text(b"ok\n\xe3\x81", "b", Boom)  # the first bytes of a 3-byte character, cut short


def test_valid_text_and_a_byte_order_mark_pass():
    assert decode_text("ルータ: r1\n".encode(), "x", Boom) == "ルータ: r1\n"
    assert decode_text(b"\xef\xbb\xbfa: 1\n", "x", Boom) == "a: 1\n"  # a BOM (Windows editors) is dropped
    assert decode_text(b"", "x", Boom) == ""


def test_the_line_counts_from_the_start_of_the_file_with_a_bom():
    with pytest.raises(Boom, match=r"^x:2: not UTF-8 text \(byte 0xc0\)"):
        decode_text(b"\xef\xbb\xbfa\n\xc0\n", "x", Boom)


def test_read_text_reads_and_decodes(tmp_path):
    path = tmp_path / "t.flows"
    path.write_bytes(b"\xef\xbb\xbfpriority=1 actions=drop\n")
    assert read_text(path, Boom) == "priority=1 actions=drop\n"
    path.write_bytes(b"priority=1 actions=drop\n\n\xfe\n")
    with pytest.raises(Boom) as caught:
        read_text(path, Boom)
    assert str(caught.value) == f"{path}:3: not UTF-8 text (byte 0xfe); save it as UTF-8"


def test_missing_file_and_directory_cannot_be_read(tmp_path):
    with pytest.raises(Boom) as caught:
        read_text(tmp_path / "nope.yaml", Boom)
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    with pytest.raises(Boom) as caught:
        read_text(tmp_path, Boom, "spec")
    assert str(caught.value) == f"{tmp_path}: cannot read spec: Is a directory"


def test_name_replaces_the_path_in_every_message(tmp_path):
    path = tmp_path / "topo.yaml"
    with pytest.raises(Boom, match=r"^topologies/topo.yaml: cannot read: No such file"):
        read_text(path, Boom, name="topologies/topo.yaml")
    path.write_bytes(b"a\n\xff")
    with pytest.raises(Boom, match=r"^topologies/topo.yaml:2: not UTF-8 text \(byte 0xff\)"):
        read_text(str(path), Boom, name="topologies/topo.yaml")


def test_any_os_error_is_a_cannot_read_line(tmp_path):
    (tmp_path / "flows").write_text("a\n")  # a file where a folder is expected: ENOTDIR, even for root
    with pytest.raises(Boom, match=r"flows/s1.flows: cannot read: Not a directory$"):
        read_text(tmp_path / "flows" / "s1.flows", Boom)


def test_default_error_is_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        read_text(tmp_path / "missing")
    with pytest.raises(ValueError, match=r":1: not UTF-8"):
        decode_text(b"\xff", "s")
