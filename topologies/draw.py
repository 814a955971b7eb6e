"""Draw a topology as a Graphviz DOT graph and render it to SVG or PNG with ``dot``.

Roles become shapes and colours (switches boxes, cameras, meters, servers each their own),
links are labelled with their declared capacity and delay. ``to_dot`` is pure; ``render``
runs Graphviz.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sdnlab.errors import TopologyError
from sdnlab.topologies.model import Topology

# role or kind -> (shape, fill colour); the first matching role of a node wins
STYLE = {
    "switch": ("box", "#cfe2f3"),
    "core": ("box3d", "#9fc5e8"),
    "rsu": ("house", "#b6d7a8"),
    "edge": ("doubleoctagon", "#93c47d"),
    "mec": ("doubleoctagon", "#93c47d"),
    "cloud": ("cylinder", "#d9d2e9"),
    "analytics": ("cylinder", "#b4a7d6"),
    "camera": ("invtriangle", "#f9cb9c"),
    "meter": ("circle", "#ffe599"),
    "head_end": ("cylinder", "#f6b26b"),
    "vehicle": ("ellipse", "#a2c4c9"),
    "station": ("box", "#ea9999"),
    "source": ("cylinder", "#e06666"),
    "receiver": ("ellipse", "#f4cccc"),
    "operator": ("note", "#d9d9d9"),
    "vnf": ("hexagon", "#ffd966"),
    "server": ("cylinder", "#d9ead3"),
    "host": ("ellipse", "#ffffff"),
}


def _style(node) -> tuple[str, str]:
    for role in node.roles:
        if role in STYLE and not node.is_switch:
            return STYLE[role]
    if node.is_switch:
        for role in node.roles:
            if role in ("core", "rsu", "edge", "station", "cloud"):
                return (STYLE[role][0] if role in ("core", "rsu", "station") else "box", STYLE[role][1])
        return STYLE["switch"]
    return STYLE.get(node.kind, STYLE["host"])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _capacity(bw: float | None) -> str:
    if bw is None:
        return ""
    return f"{bw / 1000:g}G" if bw >= 1000 else f"{bw:g}M"


# A readable default picture: at most this many hosts drawn in all (the rest are folded into one
# "+N more" node per switch), and switches with more links than DENSE_LINKS carry their port
# numbers in the link label instead of at the link's end, where they would overlap.
MAX_HOSTS_DRAWN = 12
DENSE_LINKS = 5


def _per_switch_hosts(topology: Topology) -> dict[str, list]:
    per_switch: dict[str, list] = {}
    for link in topology.links:
        for host, switch in ((link.a, link.b), (link.b, link.a)):
            if not topology.nodes[host].is_switch and topology.nodes[switch].is_switch:
                per_switch.setdefault(switch, []).append((host, link))
    return per_switch


def _kept_per_switch(per_switch: dict[str, list], max_hosts_per_switch: int) -> int:
    """How many hosts each switch shows (the last shown slot becomes the "+N more" node)."""
    total = sum(len(attached) for attached in per_switch.values())
    if total <= MAX_HOSTS_DRAWN:
        return max_hosts_per_switch
    crowded = sum(1 for attached in per_switch.values() if len(attached) > 2) or 1
    return max(2, min(max_hosts_per_switch, MAX_HOSTS_DRAWN // crowded))


def to_dot(topology: Topology, max_hosts_per_switch: int = 12) -> str:
    """DOT text for the topology; large host fan-outs are summarised as one node per switch."""
    per_switch = _per_switch_hosts(topology)
    keep = _kept_per_switch(per_switch, max_hosts_per_switch)
    # many fans side by side make a picture many times wider than a screen: draw left to right
    sideways = sum(min(len(a), keep) for a in per_switch.values()) > 16
    lines = [
        f"graph {_quote(topology.name)} {{",
        (
            '  graph [overlap=false, sep="+25", splines=true, fontname="Helvetica", fontsize=12, '
            f"label={_quote(topology.name + ' ' + ', '.join(f'{k}={v}' for k, v in topology.params.items()))}"
            ", "
            f"labelloc=t{', rankdir=LR' if sideways else ''}];"
        ),
        '  node [fontname="Helvetica", fontsize=10, style=filled];',
        '  edge [fontname="Helvetica", fontsize=8, color="#555555"];',
    ]
    # hosts attached to a switch beyond the limit are folded into a summary node
    folded: set[str] = set()
    for attached in per_switch.values():
        if len(attached) > keep:
            folded.update(h for h, _ in attached[keep - 1 :])
    for node in topology.nodes.values():
        if node.name in folded:
            continue
        shape, colour = _style(node)
        label = node.name
        if node.ip:
            label += f"\\n{node.ip}"
        if node.is_switch:
            label += f"\\ndpid {node.dpid}"
        lines.append(f'  {_quote(node.name)} [shape={shape}, fillcolor={_quote(colour)}, label="{label}"];')
    for switch, attached in per_switch.items():
        hidden = [h for h, _ in attached if h in folded]
        if hidden:
            first = topology.nodes[hidden[0]]
            shape, colour = _style(first)
            summary = f"{switch}__more"
            lines.append(
                f'  {_quote(summary)} [shape={shape}, fillcolor={_quote(colour)}, style="filled,dashed", '
                f'label="+{len(hidden)} more\\n{hidden[0]} .. {hidden[-1]}"];'
            )
            link = next(lk for h, lk in attached if h == hidden[0])
            lines.append(
                f"  {_quote(summary)} -- {_quote(switch)} "
                f"[style=dashed, label={_quote(_capacity(link.bw_mbit))}];"
            )
    degree: dict[str, int] = {}
    for link in topology.links:
        if link.a not in folded and link.b not in folded:
            degree[link.a] = degree.get(link.a, 0) + 1
            degree[link.b] = degree.get(link.b, 0) + 1
    for link in topology.links:
        if link.a in folded or link.b in folded:
            continue
        parts = [p for p in (_capacity(link.bw_mbit), f"{link.delay_ms:g}ms" if link.delay_ms else "") if p]
        width = 1.0 + min(3.0, (link.bw_mbit or 100) / 400)
        ends = ""
        if degree.get(link.a, 0) > DENSE_LINKS or degree.get(link.b, 0) > DENSE_LINKS:
            parts.insert(0, f"{link.a}:{link.a_port}-{link.b}:{link.b_port}")  # no crowded end labels
        else:
            ends = f"taillabel={_quote(str(link.a_port))}, headlabel={_quote(str(link.b_port))}, "
        lines.append(
            f"  {_quote(link.a)} -- {_quote(link.b)} [label={_quote(' '.join(parts))}, {ends}"
            f"penwidth={width:.1f}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(topology: Topology, output: Path) -> Path:
    """Write an SVG or PNG picture of the topology (format from the file suffix)."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "dot"):
        raise TopologyError(f"{output}: output must end in .svg, .png or .dot")
    dot_text = to_dot(topology)
    if fmt == "dot":
        output.write_text(dot_text)
        return output
    engine = "neato" if len(topology.nodes) <= 60 and _has_cycle(topology) else "dot"
    binary = shutil.which(engine) or shutil.which("dot")
    if not binary:
        raise TopologyError("Graphviz is not installed: run `make setup` (installs graphviz)")
    proc = subprocess.run(
        [binary, f"-T{fmt}", "-o", str(output)], input=dot_text, text=True, capture_output=True
    )
    if proc.returncode != 0:
        raise TopologyError(f"graphviz failed drawing {output}: {proc.stderr.strip()}")
    return output


def _has_cycle(topology: Topology) -> bool:
    switches = {n.name for n in topology.switches()}
    links = [lk for lk in topology.links if lk.a in switches and lk.b in switches]
    return len(links) >= len(switches)
