"""Lab 4 for k vehicles per roadside unit (two RSUs): texts and starter flows (the reference flows
are instructor data: instructor/labs/connected_car/variant/derive.py).

Ports (connected_car topology): rsu_r 1..k = its vehicles, k+1 = edge, k+2 = its core switch;
edge 1 = rsu1, 2 = rsu2, 3 = mec1, 4 = core1; core1 1 = rsu1, 2 = edge, 3 = core2, 4 = cloudgw;
core2 1 = rsu2, 2 = core1, 3 = cloudgw; cloudgw 1 = core1, 2 = core2, 3 = cloud1, 4 = cloud2.
Vehicle v_i is 10.10.0.i (rsu1: v1..vk, rsu2: vk+1..v2k); mec1, cloud1, cloud2 are 10.20.0.1-3.
"""

WORDS = {2: "Four", 3: "Six", 4: "Eight"}


def _pair(ip: str, port: int) -> list[str]:
    return [
        f"priority=100,ip,nw_dst={ip},actions=output:{port}",
        f"priority=100,arp,arp_tpa={ip},actions=output:{port}",
    ]


def _vehicles(k: int, rsu: int) -> list[int]:
    return list(range(1 + (rsu - 1) * k, 1 + rsu * k))


def _rsu(k: int, rsu: int) -> str:
    core = "core1" if rsu == 1 else "core2"
    names = ", ".join(f"v{v}=port {p}" for p, v in enumerate(_vehicles(k, rsu), 1))
    lines = [f"# rsu{rsu}: {names}, edge=port {k + 1}, {core}=port {k + 2}"]
    for port, v in enumerate(_vehicles(k, rsu), 1):
        lines += _pair(f"10.10.0.{v}", port)
    lines.append("# everything else from the vehicles goes to the metro core and the cloud")
    lines += [f"priority=50,in_port={p},actions=output:{k + 2}" for p in range(1, k + 1)]
    lines += [
        "# replies coming down from the edge or the core are delivered by the rules above",
        "priority=0,actions=drop",
    ]
    return "\n".join(lines) + "\n"


def _edge() -> str:
    lines = ["# edge: rsu1=port 1, rsu2=port 2, mec1=port 3, core1=port 4", *_pair("10.20.0.1", 3)]
    lines += [
        "# replies from mec1 go back through the metro core",
        "priority=50,in_port=3,actions=output:4",
    ]
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n"


def _core(k: int, name: str) -> str:
    if name == "core1":
        header, cloud, own, other, mec = (
            "# core1: rsu1=port 1, edge=port 2, core2=port 3, cloudgw=port 4",
            4,
            1,
            3,
            2,
        )
        order = (1, 2)
    else:
        header, cloud, own, other, mec = "# core2: rsu2=port 1, core1=port 2, cloudgw=port 3", 3, 1, 2, 2
        order = (2, 1)
    lines = [header, *_pair("10.20.0.2", cloud), *_pair("10.20.0.3", cloud)]
    for rsu in order:
        for v in _vehicles(k, rsu):
            lines += _pair(f"10.10.0.{v}", own if rsu == order[0] else other)
    lines += _pair("10.20.0.1", mec)
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n"


def _cloudgw(k: int) -> str:
    lines = ["# cloudgw: core1=port 1, core2=port 2, cloud1=port 3, cloud2=port 4", *_pair("10.20.0.2", 3)]
    lines += _pair("10.20.0.3", 4)
    for rsu in (1, 2):
        for v in _vehicles(k, rsu):
            lines += _pair(f"10.10.0.{v}", rsu)
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n"


def _radio_rows(k: int, word: str) -> str:
    rows = []
    for rsu in (1, 2):
        cells = " ".join(f"v{v}-rsu{rsu}({p})" for p, v in enumerate(_vehicles(k, rsu), 1))
        rows.append(f"    {cells:<28} 2 ms    {word}")
    return "\n".join(rows)


def derive(values: dict) -> dict:
    k = values["vehicles_per_rsu"]
    n = 2 * k
    files = {
        "starter/flows/rsu1.flows": _rsu(k, 1),
        "starter/flows/rsu2.flows": _rsu(k, 2),
        "starter/flows/edge.flows": _edge(),
        "starter/flows/core1.flows": _core(k, "core1"),
        "starter/flows/core2.flows": _core(k, "core2"),
        "starter/flows/cloudgw.flows": _cloudgw(k),
    }
    rsu1 = ", ".join(f"v{v}" for v in _vehicles(k, 1))
    rsu2 = ", ".join(f"v{v}" for v in _vehicles(k, 2))
    return {
        "__files__": files,
        "n": n,
        "vehicles_word": WORDS[k],
        "rsu1_vehicles": rsu1,
        "rsu2_vehicles": rsu2,
        "radio_rows_en": _radio_rows(k, "radio"),
        "radio_rows_ja": _radio_rows(k, "無線"),
        "edge_port": k + 1,
        "core_port": k + 2,
        "rsu1_addresses": "10.10.0." + "/.".join(str(v) for v in _vehicles(k, 1)),
        "rsu2_addresses": "10.10.0." + "/.".join(str(v) for v in _vehicles(k, 2)),
    }
