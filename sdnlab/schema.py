"""JSON Schemas of the topology and lab.yaml formats, for editors that validate while typing.

``sdnlab schema topology|lab`` prints one; the same schemas are published as
``docs/schema/<format>.schema.json`` (a test keeps the files equal to what this module builds).
They are built from the loaders' own key lists, so a key the loader accepts is one the schema
accepts. The schema checks structure (known keys, required keys, types, choices); the loaders
stay the authority on meaning (addresses, selectors, expressions) and report with file:line.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://sdnlab.example/schema"
JSON = dict[str, Any]

_TEMPLATE = {"type": "string", "pattern": r"\{.+\}"}  # "{uplink_mbit}": a parameter in a template
_INT_OR_TEMPLATE: JSON = {"anyOf": [{"type": "integer"}, _TEMPLATE]}
_SCALAR: JSON = {"type": ["string", "number", "boolean"]}
_LOOP: JSON = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def _object(properties: JSON, required: tuple[str, ...] = (), description: str = "") -> JSON:
    schema: JSON = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def topology_schema() -> JSON:
    """The JSON Schema of a topology file (docs/topologies.md)."""
    from sdnlab.topologies import loader
    from sdnlab.topologies.model import BOND_MODES, LACP_MODES, NODE_KINDS

    quantity = {"anyOf": [{"type": "number"}, {"type": "string"}]}
    node_props: JSON = {
        "name": {"type": "string", "description": "identifier; templates such as h{i} in a for entry"},
        "kind": {"anyOf": [{"enum": list(NODE_KINDS)}, _TEMPLATE]},
        "roles": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "role": {"type": "string"},
        "ip": {"type": "string"},
        "mac": {"type": "string"},
        "dpid": _INT_OR_TEMPLATE,
        "pool": {"type": "string"},
        "interfaces": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 8},
                {"type": "array", "items": _object({"ip": {"type": "string"}, "mac": {"type": "string"}})},
            ]
        },
        "gateway": {"type": "string", "description": "hosts: default route via this address"},
        "bond": {
            "description": "hosts: bond all interfaces into bond0 (an OVS bond speaking LACP)",
            "anyOf": [
                {"type": "boolean"},
                _object({"lacp": {"enum": list(LACP_MODES)}, "mode": {"enum": list(BOND_MODES)}}),
            ],
        },
        "for": _LOOP,
        "if": _SCALAR,
    }
    link_props: JSON = {
        "a": {"type": "string"},
        "b": {"type": "string"},
        "bw": quantity,
        "delay": quantity,
        "loss": quantity,
        "for": _LOOP,
        "if": _SCALAR,
    }
    param_props: JSON = {
        "default": {"type": "integer"},
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "description": {"type": "string"},
    }
    top: JSON = {
        "version": {"const": loader.FORMAT_VERSION},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "parameters": {"type": "object", "additionalProperties": _object(param_props, ("default",))},
        "constraints": {
            "type": "array",
            "items": _object({"check": {"type": "string"}, "message": {"type": "string"}}, ("check",)),
        },
        "addressing": _object(
            {
                "subnet": {"type": "string"},
                "pools": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        ),
        "ovsdb": {
            "description": "open the switches' OVSDB to the controller on 127.0.0.1 (true: port 6632)",
            "anyOf": [{"type": "boolean"}, {"type": "integer", "minimum": 1024, "maximum": 65535}],
        },
        "nodes": {"type": "array", "items": _object(node_props, ("name",))},
        "links": {"type": "array", "items": _object(link_props, ("a", "b"))},
    }
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}/topology.schema.json",
        "title": "sdnlab topology",
        **_object(top, ("version", "nodes")),
    }


def lab_schema() -> JSON:
    """The JSON Schema of a lab package's lab.yaml (docs/labs.md)."""
    from sdnlab.certification.scenarios import KINDS as SCENARIO_KINDS
    from sdnlab.grader import spec
    from sdnlab.labs import loader
    from sdnlab.labs.model import CONTROLLER_MODES, LANGUAGES, LEVELS, SKILLS

    text = _object({lang: {"type": "string"} for lang in LANGUAGES}, LANGUAGES)

    def one_of_kinds(kinds: dict[str, set[str]], common: JSON) -> JSON:
        variants = []
        for kind, keys in kinds.items():
            args = (
                {"type": ["object", "null"], "propertyNames": {"enum": sorted(keys)}}
                if keys
                else {"type": "null"}
            )
            variants.append(_object({kind: args, **common}, (kind,)))
        return {"oneOf": variants}

    # `skills:` on a check (read by the lab loader, names checked by sdnlab.certification)
    check_skills: JSON = {
        "type": "object",
        "description": "the skills this check gives evidence of: skill id to level (skills/framework.yaml)",
        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 9},
        "minProperties": 1,
    }
    behaviour_kinds = spec.kind_names()
    description: JSON = {"anyOf": [{"type": "string"}, text]}  # a plain string is English only
    behaviour: JSON = {
        "type": "object",
        "description": "one behaviour: exactly one of " + ", ".join(behaviour_kinds),
        # hidden checks are instructor data (instructor/labs/<id>/hidden.yaml): no `hidden` here
        "propertyNames": {
            "enum": [*behaviour_kinds, *(k for k in spec.COMMON_KEYS if k != "hidden"), "skills"]
        },
        "properties": {"skills": check_skills, "description": description},
        "minProperties": 1,
    }
    probe_common: JSON = {
        "id": {"type": "string"},
        "description": description,
        "weight": {"type": "number", "exclusiveMinimum": 0},
        "skills": check_skills,
    }
    band: JSON = {
        "type": "object",
        "description": "{max: X, credit: C} (lower is better) or {min: X, credit: C}; the first met counts",
        "properties": {
            "max": {"type": "number"},
            "min": {"type": "number"},
            "credit": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        },
        "required": ["credit"],
        "additionalProperties": False,
    }
    scored_common: JSON = {
        **probe_common,
        "bands": {"type": "array", "items": band, "minItems": 1},
    }
    scored = one_of_kinds({k: set(v[0]) for k, v in SCENARIO_KINDS.items()}, scored_common)
    for kind, variant in zip(SCENARIO_KINDS, scored["oneOf"], strict=True):
        variant["required"] = [kind, "id", "bands"]
        variant["properties"][kind]["type"] = "object"
    step = one_of_kinds(loader.STEP_KINDS, {})
    step = {"anyOf": [{"enum": sorted(loader.STEP_KINDS)}, step]}
    top: JSON = {
        "id": {"type": "string", "pattern": loader.ID_PATTERN.pattern},
        "number": {"type": "integer", "minimum": 1},
        "title": text,
        "summary": text,
        "level": {"enum": list(LEVELS)},
        "minutes": {"type": "integer", "minimum": 1},
        "skills": {
            "type": "object",
            "propertyNames": {"enum": list(SKILLS)},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 5},
            "minProperties": 1,
        },
        "topology": _object(
            {"name": {"type": "string"}, "file": {"type": "string"}, "params": {"type": "object"}},
            description="exactly one of name (a catalogue topology) or file (in the lab folder)",
        ),
        "controller": _object(
            {
                "mode": {"enum": list(CONTROLLER_MODES)},
                "app": {"type": "string"},
                "config": {"type": "string"},
            },
            ("mode",),
        ),
        "vnfs": {
            "type": "array",
            "items": _object(
                {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "description": "a built-in kind or a .py file"},
                    "host": {"type": "string"},
                    "config": {"type": "string"},
                },
                ("name", "kind", "host"),
            ),
        },
        "scenario": {"type": "array", "items": step},
        "scored": {
            "type": "array",
            "description": "scored scenarios: measured on the live lab, partial credit from bands",
            "items": scored,
        },
        "behaviours": {"type": "array", "items": behaviour},
        "probes": {"type": "array", "items": one_of_kinds(loader.PROBE_KINDS, probe_common)},
        "hints": {"type": "array", "items": text, "minItems": 1},
    }
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}/lab.schema.json",
        "title": "sdnlab lab package (lab.yaml)",
        **_object(top, ("id", "number", "title", "level", "minutes", "skills", "topology", "hints")),
    }


SCHEMAS = {"topology": topology_schema, "lab": lab_schema}


def schema_text(name: str) -> str:
    """The schema ``name`` as the JSON text published under docs/schema/."""
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"


class Format(StrEnum):
    """The formats that have a schema."""

    topology = "topology"
    lab = "lab"


def schema(fmt: Annotated[Format, typer.Argument(help="Which format: topology or lab.")]) -> None:
    """Print the JSON Schema of a file format (also in docs/schema/), for editors to validate with.

    Example: sdnlab schema topology > topology.schema.json
    """
    typer.echo(schema_text(fmt.value), nl=False)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add ``sdnlab schema``."""
    root.command("schema")(schema)
