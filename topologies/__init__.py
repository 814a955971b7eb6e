"""Declarative topologies: YAML files validated into typed ``Topology`` objects.

``load_topology(name_or_path, params)`` is the entry point; ``catalogue()`` lists the shipped
topologies in ``topologies/catalogue/``. ``mininet_build`` turns a Topology into Mininet objects.
"""

from sdnlab.topologies.loader import catalogue, load_topology, load_topology_text, parse_params, resolve_path
from sdnlab.topologies.model import Interface, Link, Node, Parameter, Topology

__all__ = [
    "Interface",
    "Link",
    "Node",
    "Parameter",
    "Topology",
    "catalogue",
    "load_topology",
    "load_topology_text",
    "parse_params",
    "resolve_path",
]
