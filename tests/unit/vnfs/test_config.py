"""YAML config reading: every problem reported at once as file:line: field: problem."""

import pytest

from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.vnfs.firewall.vnf import Firewall
from sdnlab.vnfs.framework.config import Errors, Fields, load_yaml, load_yaml_text, to_int, to_port_range


def test_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "fw.yaml"
    path.write_text(
        "default: drop\nrules:\n  - name: web\n    action: accept\n    proto: tcp\n    dport: 99999\n"
        "  - action: allow\n"
    )
    with pytest.raises(VnfConfigError) as err:
        Firewall(load_yaml(path), source=str(path))
    text = str(err.value)
    assert f"{path}:6: rules[0].dport:" in text
    assert f"{path}:7: rules[1].action: expected one of accept, drop, reject (got 'allow')" in text


def test_unknown_settings_are_reported_with_their_line():
    with pytest.raises(VnfConfigError, match=r"<config>:2: rules\[0\].dprot: unknown setting"):
        Firewall("rules:\n  - {action: accept, proto: tcp, dprot: 80}\n")


def test_ports_need_a_port_protocol():
    with pytest.raises(VnfConfigError, match="ports need proto"):
        Firewall("rules:\n  - {action: accept, dport: 80}\n")


def test_invalid_yaml_names_the_line():
    with pytest.raises(VnfConfigError, match=r"x.yaml:[23]: invalid YAML"):
        load_yaml_text("a: 1\nb: [1, 2\n", "x.yaml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(VnfConfigError, match="cannot read config"):
        load_yaml(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text,expected", [(80, (80, 80)), ("1000-2000", (1000, 2000)), ([5, 6], (5, 6))])
def test_port_ranges(text, expected):
    assert to_port_range(text) == expected


@pytest.mark.parametrize("bad", ["80-70", "x", 70000, True])
def test_bad_port_ranges(bad):
    with pytest.raises(ValueError):
        to_port_range(bad)


def test_fields_collect_all_errors_before_raising():
    errors = Errors("c.yaml")
    fields = Fields(load_yaml_text("a: x\nb: y\n"), "", errors)
    fields.get("a", to_int())
    fields.get("b", to_int())
    fields.get("c", to_int())
    assert len(errors.items) == 3
    with pytest.raises(VnfConfigError):
        errors.raise_if_any()
