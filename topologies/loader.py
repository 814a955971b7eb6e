"""Load topology files: YAML text -> validated, expanded ``Topology``.

The stages are: parse YAML (keeping lines), resolve parameters against their declared bounds,
expand ``for``/``if`` entries, check nodes and links, allocate addresses, MACs, dpids and ports.
Every mistake is collected with its ``file:line: field`` and reported together in one
``TopologyError``, so an instructor sees them all at once.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from sdnlab import textfile
from sdnlab.errors import TopologyError
from sdnlab.problems import Problems
from sdnlab.topologies import expr
from sdnlab.topologies.model import (
    BOND_MODES,
    IFNAME_MAX,
    LACP_MODES,
    NODE_KINDS,
    Bond,
    Interface,
    Link,
    Node,
    Parameter,
    Topology,
    longest_switch_port_name,
)
from sdnlab.yamlsrc import YMap, YSeq, line_of, load_yaml

FORMAT_VERSION = 1
CATALOGUE_DIR = Path(__file__).parent / "catalogue"
MAX_NODES = 5000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_SWITCH_NAME = (
    7  # "l99<switch>-eth<port>" must fit Linux's 15 characters in every slot (ports checked too)
)
MAX_HOST_NAME = 10  # "<host>-eth<N>"

_TOP_KEYS = {
    "version",
    "name",
    "description",
    "parameters",
    "constraints",
    "addressing",
    "ovsdb",
    "nodes",
    "links",
}
_NODE_KEYS = {
    *("name", "kind", "roles", "role", "ip", "mac", "dpid", "pool", "interfaces"),
    *("bond", "gateway", "for", "if"),
}
_LINK_KEYS = {"a", "b", "bw", "delay", "loss", "for", "if"}
_PARAM_KEYS = {"default", "min", "max", "description"}


def catalogue() -> list[str]:
    """Names of the topologies shipped with sdnlab."""
    return sorted(p.stem for p in CATALOGUE_DIR.glob("*.yaml"))


def resolve_path(ref: str | Path) -> Path:
    """A catalogue name or a file path -> the topology file."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise TopologyError(f"{ref}: no such topology file")
        return path
    candidate = CATALOGUE_DIR / f"{ref}.yaml"
    if candidate.is_file():
        return candidate
    raise TopologyError(
        f"unknown topology {str(ref)!r}; known: {', '.join(catalogue())} (or give a .yaml path)"
    )


def parse_params(pairs: list[str] | None) -> dict:
    """``["meters=50", "k=4"]`` -> ``{"meters": "50", "k": "4"}`` (values checked at load time)."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TopologyError(f"--param {pair!r}: expected NAME=VALUE")
        params[key.strip()] = value.strip()
    return params


def load_topology(ref: str | Path, params: dict | None = None) -> Topology:
    """Load a catalogue topology or a topology file with parameter overrides."""
    path = resolve_path(ref)
    display = _display_name(path)
    text = textfile.read_text(path, TopologyError, name=display)
    return load_topology_text(text, display, params, default_name=path.stem)


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        if path.resolve().is_relative_to(CATALOGUE_DIR.parent):
            return f"topologies/{path.resolve().relative_to(CATALOGUE_DIR.parent)}"
        return str(path)


def load_topology_text(
    text: str, filename: str = "<string>", params: dict | None = None, default_name: str = "topology"
) -> Topology:
    """Load a topology from YAML text (see ``load_topology``)."""
    doc = load_yaml(text, filename, TopologyError)
    errors = Problems(filename, TopologyError)
    if not isinstance(doc, YMap):
        errors.add(
            getattr(doc, "line", 1),
            "",
            "a topology file must be a mapping with 'version', 'nodes' and 'links'",
        )
        errors.check()
    _check_top(doc, errors)
    if not isinstance(doc.get("nodes"), YSeq) or not isinstance(doc.get("links") or YSeq(), YSeq):
        errors.check()  # nothing further can be checked without the node and link lists
    top = len(errors.items)  # top-level mistakes (an unknown key) do not stop the checks below
    parameters = _parameters(doc, errors)
    subnet, pools = _addressing(doc, errors)  # independent of the parameters: same round
    errors.check(since=top)
    resolved = _resolve_params(parameters, params or {}, filename)
    _constraints(doc, resolved, errors)
    raw_nodes = _expand(doc.get("nodes"), "nodes", _NODE_KEYS, resolved, errors)
    raw_links = _expand(doc.get("links") or YSeq(), "links", _LINK_KEYS, resolved, errors)
    errors.check(since=top)
    node_errors = len(errors.items)
    nodes = _nodes(raw_nodes, subnet, pools, errors)
    # links are checked in the same round even when some nodes are wrong: their endpoints are
    # compared with every declared name, their properties checked; ports wait for valid nodes
    declared = {entry.get("name") for entry, _line, _field in raw_nodes if isinstance(entry.get("name"), str)}
    nodes, links = _links(raw_links, nodes, errors, declared if len(errors.items) > node_errors else None)
    errors.check()
    return Topology(
        name=str(doc.get("name") or default_name),
        description=str(doc.get("description") or "").strip(),
        params=resolved,
        parameters=tuple(parameters),
        nodes=nodes,
        links=tuple(links),
        subnet=str(subnet),
        source=filename,
        ovsdb=_ovsdb(doc),
    )


def _check_top(doc: YMap, errors: Problems) -> None:
    for key in doc:
        if key not in _TOP_KEYS:
            errors.add(line_of(doc, key), str(key), f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    version = doc.get("version")
    if version is None:
        errors.add(doc.line, "version", f"missing; this sdnlab reads version {FORMAT_VERSION}")
    elif version != FORMAT_VERSION:
        errors.add(
            line_of(doc, "version"),
            "version",
            f"unsupported version {version!r}; this sdnlab reads version {FORMAT_VERSION}",
        )
    ovsdb = doc.get("ovsdb")
    if (
        ovsdb is not None
        and not isinstance(ovsdb, bool)
        and not (isinstance(ovsdb, int) and 1024 <= ovsdb <= 65535)
    ):
        errors.add(
            line_of(doc, "ovsdb"), "ovsdb", f"expected true, false or a TCP port 1024-65535, got {ovsdb!r}"
        )
    if "name" in doc and not isinstance(doc["name"], str):
        errors.add(line_of(doc, "name"), "name", "must be a string")
    if not isinstance(doc.get("nodes"), YSeq) or not doc.get("nodes"):
        errors.add(line_of(doc, "nodes"), "nodes", "must be a non-empty list of nodes")
    if "links" in doc and doc["links"] is not None and not isinstance(doc["links"], YSeq):
        errors.add(line_of(doc, "links"), "links", "must be a list of links")


def _ovsdb(doc: YMap) -> int | None:
    """``ovsdb: true`` (port 6632) or ``ovsdb: PORT``: the switches' OVSDB open to the controller."""
    value = doc.get("ovsdb")
    if value is None or value is False:
        return None
    if value is True:
        return 6632  # as sdnlab.runtime.ovsdb.DEFAULT_PORT
    if isinstance(value, int) and 1024 <= value <= 65535:
        return value
    return None  # reported by _check_top


def _parameters(doc: YMap, errors: Problems) -> list[Parameter]:
    section = doc.get("parameters") or YMap()
    if not isinstance(section, YMap):
        errors.add(line_of(doc, "parameters"), "parameters", "must be a mapping of name: {default, min, max}")
        return []
    result = []
    for name, spec in section.items():
        line = line_of(section, name)
        field = f"parameters.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            errors.add(line, field, "parameter names must be identifiers")
            continue
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = {"default": spec}
        if not isinstance(spec, dict):
            errors.add(
                line, field, "must be an integer default or a mapping {default, min, max, description}"
            )
            continue
        for key in spec:
            if key not in _PARAM_KEYS:
                errors.add(
                    line_of(spec, key),
                    f"{field}.{key}",
                    f"unknown key (allowed: {', '.join(sorted(_PARAM_KEYS))})",
                )
        values = {}
        for key in ("default", "min", "max"):
            value = spec.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                errors.add(line_of(spec, key), f"{field}.{key}", f"must be an integer, got {value!r}")
                value = None
            values[key] = value
        if values["default"] is None:
            errors.add(line, f"{field}.default", "missing integer default")
            continue
        lo, hi, default = values["min"], values["max"], values["default"]
        if (lo is not None and default < lo) or (hi is not None and default > hi):
            errors.add(line, f"{field}.default", f"default {default} outside bounds [{lo}, {hi}]")
        result.append(Parameter(name, default, lo, hi, str(spec.get("description") or "")))
    return result


def _constraints(doc: YMap, params: dict, errors: Problems) -> None:
    """``constraints: [{check: "k % 2 == 0", message: "k must be even"}]`` over resolved parameters."""
    section = doc.get("constraints")
    if section is None:
        return
    if not isinstance(section, list):
        errors.add(line_of(doc, "constraints"), "constraints", "must be a list of {check, message}")
        return
    for index, item in enumerate(section):
        line = line_of(section, index)
        field = f"constraints[{index}]"
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("check"), str)
            or set(item) - {"check", "message"}
        ):
            errors.add(line, field, "must be a mapping {check: EXPRESSION, message: TEXT}")
            continue
        try:
            ok = expr.evaluate(item["check"], params)
        except expr.ExprError as exc:
            errors.add(line, f"{field}.check", str(exc))
            continue
        if not ok:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            errors.add(line, "parameters", f"{item.get('message') or item['check']} (got {shown})")


def _resolve_params(parameters: list[Parameter], given: dict, filename: str) -> dict:
    known = {p.name: p for p in parameters}
    problems = []
    for name in given:
        if name not in known:
            hint = (
                f"; this topology takes: {', '.join(known)}"
                if known
                else "; this topology takes no parameters"
            )
            problems.append(f"{filename}: parameter {name!r}: unknown{hint}")
    resolved = {}
    for param in parameters:
        value = given.get(param.name, param.default)
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                problems.append(f"{filename}: parameter {param.name!r}: expected an integer, got {value!r}")
                continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{filename}: parameter {param.name!r}: expected an integer, got {value!r}")
            continue
        if param.minimum is not None and value < param.minimum:
            problems.append(
                f"{filename}: parameter {param.name!r}: {value} is below the minimum {param.minimum}"
            )
        if param.maximum is not None and value > param.maximum:
            problems.append(
                f"{filename}: parameter {param.name!r}: {value} is above the maximum {param.maximum}"
            )
        resolved[param.name] = value
    if problems:
        raise TopologyError("\n".join(problems))
    return resolved


def _expand(
    section, section_name: str, allowed: set, params: dict, errors: Problems
) -> list[tuple[dict, int, str]]:
    """Expand ``for``/``if`` entries into concrete ones: [(entry with values rendered, line, field)]."""
    result: list[tuple[dict, int, str]] = []
    if not isinstance(section, list):
        return result
    for index, entry in enumerate(section):
        line = line_of(section, index)
        field = f"{section_name}[{index}]"
        if not isinstance(entry, dict):
            errors.add(line, field, "must be a mapping")
            continue
        unknown = [k for k in entry if k not in allowed]
        for key in unknown:
            errors.add(
                line_of(entry, key), f"{field}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )
        if unknown:
            continue
        loops = entry.get("for")
        loop_list = [] if loops is None else ([loops] if isinstance(loops, str) else loops)
        if not isinstance(loop_list, list) or not all(isinstance(lk, str) for lk in loop_list):
            errors.add(
                line_of(entry, "for"), f"{field}.for", "must be a loop like 'i in 1..n' or a list of them"
            )
            continue
        try:
            for env in _iterations(loop_list, dict(params)):
                if "if" in entry and not expr.evaluate(str(entry["if"]), env):
                    continue
                concrete = YMap(
                    {key: _render(value, env) for key, value in entry.items() if key not in ("for", "if")},
                    line=line,
                )
                concrete.key_lines = dict(getattr(entry, "key_lines", {}))
                result.append((concrete, line, field))
                if len(result) > MAX_NODES * 4:
                    errors.add(line, field, f"expands to more than {MAX_NODES * 4} entries")
                    return result
        except expr.ExprError as exc:
            errors.add(line, field, str(exc))
    return result


def _render(value, env):
    if isinstance(value, list):
        return [_render(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, env) for k, v in value.items()}
    return expr.render_value(value, env)


def _iterations(loops: list[str], env: dict):
    if not loops:
        yield env
        return
    var, values = expr.parse_loop(loops[0], env)
    for value in values:
        yield from _iterations(loops[1:], {**env, var: value})


def _addressing(doc: YMap, errors: Problems):
    section = doc.get("addressing") or YMap()
    if not isinstance(section, dict):
        errors.add(line_of(doc, "addressing"), "addressing", "must be a mapping {subnet, pools}")
        return None, {}
    for key in section:
        if key not in ("subnet", "pools"):
            errors.add(line_of(section, key), f"addressing.{key}", "unknown key (allowed: pools, subnet)")
    try:
        subnet = ipaddress.IPv4Network(str(section.get("subnet", "10.0.0.0/8")))
    except ValueError as exc:
        errors.add(line_of(section, "subnet"), "addressing.subnet", f"not an IPv4 network: {exc}")
        return None, {}
    pools = {}
    raw_pools = section.get("pools") or {}
    if not isinstance(raw_pools, dict):
        errors.add(line_of(section, "pools"), "addressing.pools", "must be a mapping name: CIDR")
        return subnet, {}
    for name, cidr in raw_pools.items():
        try:
            pool = ipaddress.IPv4Network(str(cidr))
        except ValueError as exc:
            errors.add(line_of(raw_pools, name), f"addressing.pools.{name}", f"not an IPv4 network: {exc}")
            continue
        if not pool.subnet_of(subnet):
            errors.add(
                line_of(raw_pools, name),
                f"addressing.pools.{name}",
                f"{pool} is not inside the lab subnet {subnet}",
            )
            continue
        pools[name] = pool
    return subnet, pools


def _roles(raw, line, field, errors) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(r, str) and _NAME.match(r) for r in items):
        errors.add(line, field, "roles must be identifiers (a string or a list of strings)")
        return ()
    return tuple(items)


def _mac_of_ip(ip: ipaddress.IPv4Address) -> str:
    raw = b"\x00\x00" + ip.packed
    return ":".join(f"{b:02x}" for b in raw)


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _nodes(raw_nodes, subnet, pools, errors: Problems) -> dict:
    """Check node entries and allocate addresses (pools in declaration order, explicit ones reserved)."""
    start = len(errors.items)
    seen: dict[str, int] = {}
    checked = []
    explicit_ips = set()
    for entry, line, field in raw_nodes:
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.add(
                line, f"{field}.name", f"node names must be identifiers starting with a letter, got {name!r}"
            )
            continue
        field = f"node {name!r}"
        if name in seen:
            errors.add(line, field, f"duplicate node name (first defined at line {seen[name]})")
            continue
        seen[name] = line
        kind = entry.get("kind", "host")
        if kind not in NODE_KINDS:
            errors.add(line, f"{field}.kind", f"must be one of {', '.join(NODE_KINDS)}, got {kind!r}")
            continue
        limit = MAX_SWITCH_NAME if kind == "switch" else MAX_HOST_NAME
        if len(name) > limit:
            errors.add(
                line, f"{field}.name", f"{kind} names are at most {limit} characters (Linux interface names)"
            )
            continue
        roles = _roles(entry.get("roles", entry.get("role")), line, f"{field}.roles", errors)
        if kind == "switch":
            for key in ("ip", "mac", "pool", "interfaces"):
                if key in entry:
                    errors.add(line, f"{field}.{key}", "switches have no host addresses or interfaces")
            dpid = entry.get("dpid")
            if dpid is not None and (
                isinstance(dpid, bool) or not isinstance(dpid, int) or not 0 < dpid < 2**64
            ):
                errors.add(line, f"{field}.dpid", f"must be an integer in 1..2^64-1, got {dpid!r}")
                dpid = None
            checked.append((name, kind, roles, line, {"dpid": dpid}))
            continue
        if "dpid" in entry:
            errors.add(line, f"{field}.dpid", "only switches have a dpid")
        spec = _interface_specs(entry, kind, line, field, errors)
        if spec is None:
            continue
        bond = _bond(entry, len(spec), line_of(entry, "bond") or line, field, errors)
        for index, (ip, _mac) in enumerate(spec):
            if ip is not None:
                try:
                    addr, prefix = _address_and_prefix(ip)
                except ValueError:
                    errors.add(line, f"{field}.ip", f"not an IPv4 address (or address/prefix): {ip!r}")
                    spec[index] = (None, _mac)
                    continue
                if prefix is not None and prefix < subnet.prefixlen:
                    errors.add(line, f"{field}.ip", f"prefix /{prefix} is wider than the lab subnet {subnet}")
                if addr not in subnet:
                    errors.add(line, f"{field}.ip", f"{addr} is outside the lab subnet {subnet}")
                if addr in explicit_ips:
                    errors.add(line, f"{field}.ip", f"address {addr} is already used")
                explicit_ips.add(addr)
        pool_name = entry.get("pool")
        if pool_name is not None and (not isinstance(pool_name, str) or pool_name not in pools):
            errors.add(
                line,
                f"{field}.pool",
                f"unknown pool {pool_name!r}; pools: {', '.join(pools) or 'none declared'}",
            )
            continue
        first_ip = spec[0][0] if spec else None
        if pool_name is not None and first_ip is not None:
            try:
                outside = ipaddress.IPv4Address(first_ip) not in pools[pool_name]
            except ValueError:
                outside = False  # reported above as not an address
            if outside:
                errors.add(
                    line_of(entry, "ip") or line,
                    f"{field}.ip",
                    f"{first_ip} is outside its pool {pool_name!r} ({pools[pool_name]})",
                )
        gateway = _gateway(entry, spec, subnet, line_of(entry, "gateway") or line, field, errors)
        checked.append(
            (name, kind, roles, line, {"spec": spec, "pool": pool_name, "bond": bond, "gateway": gateway})
        )
    if len(checked) > MAX_NODES:
        errors.add(0, "nodes", f"{len(checked)} nodes; at most {MAX_NODES} are supported")
    if len(errors.items) > start:
        return {}

    allocators = {None: _Allocator(subnet, explicit_ips)}
    for pool_name, pool in pools.items():
        allocators[pool_name] = _Allocator(pool, explicit_ips)
    nodes: dict[str, Node] = {}
    used_dpids: dict[int, str] = {}
    for name, kind, _node_roles, line, extra in checked:
        if kind == "switch" and extra["dpid"] is not None:
            if extra["dpid"] in used_dpids:
                errors.add(
                    line,
                    f"node {name!r}.dpid",
                    f"dpid {extra['dpid']} already used by {used_dpids[extra['dpid']]!r}",
                )
            used_dpids[extra["dpid"]] = name
    next_dpid = 1
    for name, kind, roles, line, extra in checked:
        if kind == "switch":
            dpid = extra["dpid"]
            if dpid is None:
                match = re.fullmatch(r"s(\d+)", name)
                wanted = int(match.group(1)) if match else None
                if wanted and wanted not in used_dpids:
                    dpid = wanted
                else:
                    while next_dpid in used_dpids:
                        next_dpid += 1
                    dpid = next_dpid
                used_dpids[dpid] = name
            nodes[name] = Node(name, kind, roles, dpid=dpid, line=line)
            continue
        interfaces = []
        for index, (ip, mac) in enumerate(extra["spec"]):
            if index == 0 and ip is None:
                try:
                    ip = str(allocators[extra["pool"]].next())
                except _Exhausted as exc:
                    errors.add(line, f"node {name!r}.ip", str(exc))
                    break
            prefix = None
            if ip is not None:
                address, given = _address_and_prefix(ip)
                ip, prefix = str(address), subnet.prefixlen if given is None else given
            if mac is None:
                mac = (
                    _mac_of_ip(ipaddress.IPv4Address(ip))
                    if ip
                    else f"02:00:{len(nodes) >> 8 & 0xFF:02x}:{len(nodes) & 0xFF:02x}:{index:02x}:01"
                )
            interfaces.append(Interface(f"{name}-eth{index}", mac.lower(), ip, prefix))
        nodes[name] = Node(
            name,
            kind,
            roles,
            interfaces=tuple(interfaces),
            line=line,
            bond=extra["bond"],
            gateway=extra["gateway"],
        )
    macs: dict[str, str] = {}
    for node in nodes.values():
        for intf in node.interfaces:
            if intf.mac in macs:
                errors.add(
                    node.line, f"node {node.name!r}.mac", f"MAC {intf.mac} already used by {macs[intf.mac]!r}"
                )
            macs[intf.mac] = node.name
    return nodes


def _address_and_prefix(text: str) -> tuple[ipaddress.IPv4Address, int | None]:
    """``10.1.0.10`` or ``10.1.0.10/24``: the address and the prefix length if given."""
    if "/" in str(text):
        interface = ipaddress.IPv4Interface(str(text))
        return interface.ip, interface.network.prefixlen
    return ipaddress.IPv4Address(str(text)), None


def _gateway(entry, spec, subnet, line: int, field: str, errors: Problems) -> str | None:
    """A host's default gateway: an address in its first interface's network, not its own."""
    raw = entry.get("gateway")
    if raw is None:
        return None
    try:
        gateway = ipaddress.IPv4Address(str(raw))
    except ValueError:
        errors.add(line, f"{field}.gateway", f"not an IPv4 address: {raw!r}")
        return None
    first = spec[0][0] if spec else None
    if first is None:
        errors.add(line, f"{field}.gateway", "a gateway needs the host's address (ip: ADDRESS/PREFIX)")
        return None
    try:
        address, prefix = _address_and_prefix(first)
    except ValueError:
        return None  # reported as a bad address
    length = subnet.prefixlen if prefix is None else prefix
    network = ipaddress.IPv4Network(f"{address}/{length}", strict=False)
    if gateway not in network or gateway == address:
        errors.add(
            line, f"{field}.gateway", f"{gateway} is not another address of the host's network {network}"
        )
        return None
    return str(gateway)


def _bond(entry, interfaces: int, line: int, field: str, errors: Problems) -> Bond | None:
    """The host's ``bond: {lacp, mode}`` (or ``bond: true`` for the defaults), checked."""
    raw = entry.get("bond")
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        errors.add(line, f"{field}.bond", "expected true or a mapping {lacp: active, mode: balance-slb}")
        return None
    bad = False
    for key in raw:
        if key not in ("lacp", "mode"):
            errors.add(line, f"{field}.bond.{key}", "unknown key (allowed: lacp, mode)")
            bad = True
    lacp, mode = raw.get("lacp", "active"), raw.get("mode", "balance-slb")
    if lacp not in LACP_MODES:
        errors.add(line, f"{field}.bond.lacp", f"must be one of {', '.join(LACP_MODES)}, got {lacp!r}")
        bad = True
    if mode not in BOND_MODES:
        errors.add(line, f"{field}.bond.mode", f"must be one of {', '.join(BOND_MODES)}, got {mode!r}")
        bad = True
    if entry.get("kind", "host") != "host":
        errors.add(line, f"{field}.bond", "only hosts (kind: host) can bond their interfaces")
        bad = True
    if interfaces < 2:
        errors.add(line, f"{field}.bond", "a bond needs at least two interfaces (interfaces: 2)")
        bad = True
    return None if bad else Bond(lacp=lacp, mode=mode)


def _interface_specs(entry, kind, line, field, errors):
    """[(ip or None, mac or None)] for each interface of a host-like node."""
    raw = entry.get("interfaces", 2 if kind == "vnf" else 1)
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 8:
            errors.add(line, f"{field}.interfaces", "must be 1..8 interfaces")
            return None
        spec: list[tuple[str | None, str | None]] = [(None, None) for _ in range(raw)]
    elif isinstance(raw, list) and 1 <= len(raw) <= 8 and all(isinstance(i, dict) for i in raw):
        spec = []
        for item in raw:
            for key in item:
                if key not in ("ip", "mac"):
                    errors.add(line, f"{field}.interfaces.{key}", "unknown key (allowed: ip, mac)")
            spec.append((item.get("ip"), item.get("mac")))
    else:
        errors.add(line, f"{field}.interfaces", "must be a count (1..8) or a list of {ip, mac}")
        return None
    if "ip" in entry:
        ip = entry["ip"]
        spec[0] = (None if ip is None else str(ip), spec[0][1])
    if "mac" in entry:
        spec[0] = (spec[0][0], entry["mac"])
    for _ip, mac in spec:
        if mac is not None and (not isinstance(mac, str) or not _MAC.match(mac)):
            errors.add(line, f"{field}.mac", f"not a MAC address like 00:00:00:00:00:01: {mac!r}")
            return None
    return spec


class _Exhausted(Exception):
    pass


class _Allocator:
    """Hands out host addresses of a network in order, skipping reserved ones."""

    def __init__(self, network: ipaddress.IPv4Network, reserved: set):
        self.network = network
        self.reserved = reserved
        self.next_int = int(network.network_address) + 1
        self.last = int(network.broadcast_address) - 1

    def next(self) -> ipaddress.IPv4Address:
        while self.next_int <= self.last:
            addr = ipaddress.IPv4Address(self.next_int)
            self.next_int += 1
            if addr not in self.reserved:
                self.reserved.add(addr)
                return addr
        raise _Exhausted(f"address pool {self.network} is exhausted")


def _parse_quantity(value, units: dict, default_unit: str, what: str):
    if value is None:
        return None
    if isinstance(value, (bool, list, dict)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z%]*)\s*", str(value))
        if not match:
            raise ValueError(f"{what} must look like 10{default_unit}, got {value!r}")
        unit = match.group(2) or default_unit
        if unit not in units:
            raise ValueError(f"{what} unit {unit!r} unknown (use {', '.join(units)})")
        number = float(match.group(1)) * units[unit]
    if number < 0:
        raise ValueError(f"{what} must not be negative")
    return number


_BW_UNITS = {
    "Mbit": 1.0,
    "Mbps": 1.0,
    "M": 1.0,
    "Gbit": 1000.0,
    "Gbps": 1000.0,
    "G": 1000.0,
    "kbit": 0.001,
    "Kbit": 0.001,
    "kbps": 0.001,
}
_DELAY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
_LOSS_UNITS = {"%": 1.0}


def _links(raw_links, nodes: dict, errors: Problems, declared: set | None = None):
    """Check links and number switch ports; with ``declared`` (the nodes had errors), only check
    what can be checked without them: endpoints among the declared names, link properties."""
    next_port = {name: (1 if node.is_switch else 0) for name, node in nodes.items()}
    links = []
    errors_before = len(errors.items)
    for entry, line, field in raw_links:
        a, b = entry.get("a"), entry.get("b")
        label = f"link {a!r}-{b!r}"
        bad = False
        for end, value in (("a", a), ("b", b)):
            if value is None:
                errors.add(line, f"{field}.{end}", "missing endpoint")
                bad = True
            elif not isinstance(value, str):
                errors.add(
                    line_of(entry, end) or line, f"{field}.{end}", f"expected a node name, got {value!r}"
                )
                bad = True
            elif value not in nodes:
                if declared is None or value not in declared:
                    errors.add(line, label, f"unknown node {value!r}")
                bad = bad or declared is None or value not in declared
        if bad:
            continue
        if a == b:
            errors.add(line, label, "a link needs two different nodes")
            continue
        values = {}
        for key, units, unit in (
            ("bw", _BW_UNITS, "Mbit"),
            ("delay", _DELAY_UNITS, "ms"),
            ("loss", _LOSS_UNITS, "%"),
        ):
            try:
                values[key] = _parse_quantity(entry.get(key), units, unit, key)
            except ValueError as exc:
                errors.add(line, label, str(exc))
                bad = True
        bw, delay, loss = values.get("bw"), values.get("delay"), values.get("loss")
        if bw is not None and not 0.001 <= bw <= 100_000:
            errors.add(line, f"{label}.bw", f"must be between 0.001 and 100000 Mbit/s, got {bw:g}")
            bad = True
        if loss is not None and loss > 100:
            errors.add(line, f"{label}.loss", f"must be a percentage 0..100, got {loss:g}")
            bad = True
        if delay is not None and delay > 10_000:
            errors.add(line, f"{label}.delay", f"at most 10 s, got {delay:g} ms")
            bad = True
        if bad or declared is not None:
            continue  # a node had errors: ports are numbered once every node is valid
        ports = []
        for end in (a, b):
            node = nodes[end]
            port = next_port[end]
            if not node.is_switch and port >= len(node.interfaces):
                errors.add(
                    line,
                    label,
                    f"{node.kind} {end!r} has {len(node.interfaces)} interface(s) "
                    "and no free one for this link",
                )
                bad = True
                break
            if node.is_switch and port > 999:
                errors.add(line, label, f"switch {end!r} would have more than 999 ports")
                bad = True
                break
            if node.is_switch and len(longest_switch_port_name(end, port)) > IFNAME_MAX:
                longest = longest_switch_port_name(end, port)
                errors.add(
                    line,
                    label,
                    f"switch {end!r} port {port} would be named {longest!r} in a lab slot "
                    f"({len(longest)} characters, Linux allows {IFNAME_MAX}): use a shorter switch name",
                )
                bad = True
                break
            next_port[end] += 1
            ports.append(port)
        if bad:
            continue
        intf = [f"{end}-eth{port}" for end, port in zip((a, b), ports, strict=False)]
        links.append(Link(a, b, ports[0], ports[1], intf[0], intf[1], bw, delay, loss, line))
    for name, node in nodes.items():
        if len(errors.items) > errors_before:
            break  # an invalid link may be the reason a host looks unconnected
        if not node.is_switch and next_port[name] == 0:
            errors.add(node.line, f"node {name!r}", f"{node.kind} is not connected to anything")
    return nodes, links
