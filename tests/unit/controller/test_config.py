"""The built-in app's config file is validated at the edge, with every error located."""

import re

import pytest

from sdnlab.controller.config import ControllerConfig, load_config, parse_config
from sdnlab.controller.errors import ControllerConfigError


def write(tmp_path, text, name="ctl.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_no_file_means_defaults():
    assert load_config(None) == ControllerConfig()


def test_a_full_config_becomes_typed_objects(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
mode: routing
weight: latency
protection: true
quarantine: [h3]
chains:
  - name: web
    match: {src: "role:meter", dst: 10.0.0.0/24, ip_proto: tcp, dst_port: 80}
    vnfs: [fw1, dpi1]
""",
        ),
        host_names={"fw1", "dpi1"},
    )
    assert config.weight == "latency" and config.protection and config.quarantine == ("h3",)
    chain = config.chains[0]
    assert chain.vnfs == ("fw1", "dpi1") and chain.match.ip_proto == 6 and chain.match.dst_port == 80
    assert chain.symmetric is True


def test_every_mistake_is_reported_with_file_line_and_field(tmp_path):
    path = write(
        tmp_path, "mode: l3\nweight: fastest\nchains:\n  - vnfs: [fw9]\n    match: {dst_port: 99999}\n"
    )
    with pytest.raises(ControllerConfigError) as error:
        load_config(path, host_names={"fw1"})
    message = str(error.value)
    assert f"{path}:1: mode: expected one of routing, l2, got 'l3'" in message
    assert f"{path}:2: weight:" in message
    assert "chains[0].vnfs[0]: unknown host 'fw9'" in message
    assert "chains[0].match.dst_port: expected a port number 0-65535, got 99999" in message


def test_json_config_and_unknown_keys(tmp_path):
    with pytest.raises(ControllerConfigError, match="colour: unknown key"):
        load_config(write(tmp_path, '{"colour": "blue"}', "ctl.json"))


@pytest.mark.parametrize(
    "data, words",
    [
        ({"chains": [{"vnfs": []}]}, "chains[0].vnfs: expected a non-empty list"),
        ({"chains": [{"vnfs": ["v"], "match": {"src_port": 5}}]}, "need ip_proto tcp or udp"),
        ({"chains": [{"vnfs": ["v"], "match": {"src": "10.0.0.300"}}]}, "invalid IP or CIDR"),
        ({"protection": "yes"}, "protection: expected true or false"),
        ({"idle_timeout": -1}, "idle_timeout: expected seconds"),
        ([1, 2], "expected a mapping at the top level"),
    ],
)
def test_invalid_values_name_the_field(data, words):
    with pytest.raises(ControllerConfigError) as error:
        parse_config(data, "x.yaml")
    assert words in str(error.value)


def test_unreadable_file_is_one_error(tmp_path):
    with pytest.raises(ControllerConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))


def test_vips_map_a_virtual_ip_to_the_host_that_answers_for_it(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("vips:\n  10.72.0.100: lb1\n")
    config = load_config(str(path), {"lb1", "h1"})
    assert config.vips == (("10.72.0.100", "lb1"),) and config.vip_owner("10.72.0.100") == "lb1"
    assert config.to_dict()["vips"] == {"10.72.0.100": "lb1"}


@pytest.mark.parametrize(
    "text, words",
    [
        ("vips:\n  10.72.0.999: lb1\n", ":2: vips.10.72.0.999: expected an IP address"),
        ("vips:\n  10.72.0.100: lb9\n", ":2: vips.10.72.0.100: unknown host 'lb9'"),
        ("vips:\n  10.72.0.100: [lb1]\n", ":2: vips.10.72.0.100: expected a host name"),
        ("vips: [10.72.0.100]\n", ":1: vips: expected a mapping"),
    ],
)
def test_bad_vips_name_file_line_and_field(tmp_path, text, words):
    path = tmp_path / "ctl.yaml"
    path.write_text(text)
    with pytest.raises(ControllerConfigError, match=re.escape(f"{path}{words}")):
        load_config(str(path), {"lb1"})
