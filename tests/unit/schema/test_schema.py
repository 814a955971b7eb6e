"""The published JSON Schemas accept every shipped topology and lab.yaml and catch typos."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from sdnlab.labs.loader import LAB_FILE, lab_dirs
from sdnlab.schema import SCHEMAS, lab_schema, schema_text, topology_schema
from sdnlab.topologies.loader import CATALOGUE_DIR, catalogue

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schema"
LAB_TOPOLOGIES = sorted(d / "topology.yaml" for d in lab_dirs() if (d / "topology.yaml").is_file())


def _errors(schema, data) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_schemas_are_valid_json_schemas_and_published_as_built(name):
    jsonschema.Draft202012Validator.check_schema(SCHEMAS[name]())
    assert (DOCS / f"{name}.schema.json").read_text(encoding="utf-8") == schema_text(name), (
        f"docs/schema/{name}.schema.json is stale: sdnlab schema {name} > docs/schema/{name}.schema.json"
    )


@pytest.mark.parametrize("name", catalogue())
def test_every_catalogue_topology_validates(name):
    data = yaml.safe_load((CATALOGUE_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert _errors(topology_schema(), data) == []


@pytest.mark.parametrize("path", LAB_TOPOLOGIES, ids=[p.parent.name for p in LAB_TOPOLOGIES])
def test_every_lab_topology_validates(path):
    assert _errors(topology_schema(), yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("folder", lab_dirs(), ids=[d.name for d in lab_dirs()])
def test_every_lab_yaml_validates(folder):
    data = yaml.safe_load((folder / LAB_FILE).read_text(encoding="utf-8"))
    assert _errors(lab_schema(), data) == []


def test_a_typo_in_a_topology_is_caught_where_it_is():
    data = yaml.safe_load(
        "version: 1\nnodes:\n  - {name: s1, kind: swich}\n  - {name: h1, rolse: [x]}\n"
        "links:\n  - {a: s1, b: h1, bandwidth: 10}\n"
    )
    errors = _errors(topology_schema(), data)
    assert any(e.startswith("nodes/0/kind") for e in errors)
    assert any(e.startswith("nodes/1") and "rolse" in e for e in errors)
    assert any(e.startswith("links/0") and "bandwidth" in e for e in errors)


def test_a_typo_in_a_lab_yaml_is_caught_where_it_is():
    folder = lab_dirs()[0]
    data = yaml.safe_load((folder / LAB_FILE).read_text(encoding="utf-8"))
    data["level"] = "expert"
    data["probes"] = [{"tcp": {"src": "h1", "dst": "h2", "prot": 80}}]
    data["controller"] = {"mode": "none", "ap": "x.py"}
    errors = _errors(lab_schema(), data)
    assert any(e.startswith("level:") for e in errors)
    assert any(e.startswith("probes/0") for e in errors)
    assert any(e.startswith("controller") and "ap" in e for e in errors)


def test_the_topology_schema_knows_exactly_the_keys_the_loader_accepts():
    from sdnlab.topologies import loader

    schema = topology_schema()
    assert set(schema["properties"]) == loader._TOP_KEYS
    assert set(schema["properties"]["nodes"]["items"]["properties"]) == loader._NODE_KEYS
    assert set(schema["properties"]["links"]["items"]["properties"]) == loader._LINK_KEYS


def test_the_lab_schema_knows_exactly_the_keys_the_loader_accepts():
    from sdnlab.labs import loader

    assert set(lab_schema()["properties"]) == loader.TOP_KEYS


def test_sdnlab_schema_prints_the_schema():
    from typer.testing import CliRunner

    from sdnlab.cli import root

    result = CliRunner().invoke(root, ["schema", "lab"])
    assert result.exit_code == 0 and result.output == schema_text("lab")
