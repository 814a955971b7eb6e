"""The registry of built-in VNF kinds: name -> ``module:Class`` and a one-line description.

Light on purpose (no imports): command-line help, lab validation and tests read the catalogue of
kinds from here without loading any VNF code; ``framework.loader`` imports a kind's class on demand.
Adding a kind: one entry here, its package under vnfs/, its tests and docs/vnfs.md.
"""

from __future__ import annotations

BUILTIN: dict[str, str] = {
    "passthrough": "sdnlab.vnfs.framework.base:VNF",
    "firewall": "sdnlab.vnfs.firewall.vnf:Firewall",
    "lb": "sdnlab.vnfs.lb.vnf:LoadBalancer",
    "dpi": "sdnlab.vnfs.dpi_vnf.vnf:DpiVnf",
    "chain": "sdnlab.vnfs.chains.vnf:ChainVNF",
}

DESCRIPTIONS: dict[str, str] = {
    "passthrough": "forwards everything",
    "firewall": "stateful firewall",
    "lb": "load balancer",
    "dpi": "deep packet inspection",
    "chain": "several VNFs in one process",
}


def kinds_help() -> str:
    """``passthrough (forwards everything), firewall (...), ...``: the kinds for --help texts."""
    return ", ".join(
        f"{kind} ({DESCRIPTIONS.get(kind, '')})" if kind in DESCRIPTIONS else kind for kind in BUILTIN
    )
