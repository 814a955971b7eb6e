"""Lab 8 for a ring of N stations: the reference flows and groups of every station (instructor
data; the texts and the starter come from labs/broadcast_failover/variant/derive.py).

Ports (from the broadcast_backbone topology): st1 1 = playout, 2 = monitor, 3 = st2, 4 = stN;
st_i (i > 1) 1 = rx_i, 2 = the previous station, 3 = the next one (st1 after stN). rx_i is
10.51.0.(i-1). The primary direction is the shorter way round the ring (ties go via st2).
"""

TRANSIT_COMMENT = (
    "# studio-bound traffic in transit: keep going, or bounce back the other way round the ring "
    "if the next fibre is cut"
)


def _via_st2(i: int, n: int) -> bool:
    """True when station i is at least as close to st1 going via st2 (down) as via stN."""
    return i - 1 <= n - i + 1


def _st1(n: int, solution: bool) -> tuple[str, str]:
    lines = [
        f"# st1 (playout centre): playout = port 1, monitor = port 2, st2 = port 3, st{n} = port 4",
        "priority=100,ip,nw_dst=10.50.0.1,actions=output:1",
        "priority=100,arp,arp_tpa=10.50.0.1,actions=output:1",
        "priority=100,ip,nw_dst=10.50.0.2,actions=output:2",
        "priority=100,arp,arp_tpa=10.50.0.2,actions=output:2",
    ]
    groups = ["# fast-failover: the first bucket whose watched port is live forwards the packet"]
    if solution:
        lines.append(
            "# each receiver: fast-failover group, primary fibre first, the other way round the ring second"
        )
    else:
        lines.append(
            "# each receiver on its shortest fibre: a cut loses the feed until someone reprograms st1"
        )
    for i in range(2, n + 1):
        first, second = (3, 4) if _via_st2(i, n) else (4, 3)
        action = f"group:{i}" if solution else f"output:{first}"
        lines.append(f"priority=100,ip,nw_dst=10.51.0.{i - 1},actions={action}")
        lines.append(f"priority=100,arp,arp_tpa=10.51.0.{i - 1},actions={action}")
        groups.append(
            f"group_id={i},type=ff,bucket=watch_port:{first},actions=output:{first},"
            f"bucket=watch_port:{second},actions=output:{second}"
        )
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n", "\n".join(groups) + "\n"


def _station(i: int, n: int, solution: bool) -> tuple[str, str]:
    home, other = (2, 3) if _via_st2(i, n) else (3, 2)
    lines = [
        f"# st{i}: rx{i} = port 1, ring ports 2 and 3",
        f"priority=200,ip,nw_dst=10.51.0.{i - 1},actions=output:1",
        f"priority=200,arp,arp_tpa=10.51.0.{i - 1},actions=output:1",
    ]
    if solution:
        lines += [
            "# studio-bound transit (10.50.0.0/24): fast-failover, with a bounce if the fibre ahead is cut",
            "priority=120,in_port=2,ip,nw_dst=10.50.0.0/24,actions=group:2",
            "priority=120,in_port=3,ip,nw_dst=10.50.0.0/24,actions=group:3",
            "priority=120,in_port=2,arp,arp_tpa=10.50.0.0/24,actions=group:2",
            "priority=120,in_port=3,arp,arp_tpa=10.50.0.0/24,actions=group:3",
        ]
    lines += [
        "# transit around the ring: what enters on one ring port leaves on the other",
        "priority=100,in_port=2,actions=output:3",
        "priority=100,in_port=3,actions=output:2",
    ]
    if solution:
        lines += [
            "# replies to the studio: fast-failover towards st1 (group 1)",
            "priority=150,in_port=1,actions=group:1",
        ]
    else:
        lines += [
            "# replies to the studio: the shortest way to st1",
            f"priority=150,in_port=1,actions=output:{home}",
        ]
    lines.append("priority=0,actions=drop")
    groups = [
        (
            f"group_id=1,type=ff,bucket=watch_port:{home},actions=output:{home},"
            f"bucket=watch_port:{other},actions=output:{other}"
        ),
        TRANSIT_COMMENT,
        "group_id=2,type=ff,bucket=watch_port:3,actions=output:3,bucket=watch_port:2,actions=in_port",
        "group_id=3,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=in_port",
    ]
    return "\n".join(lines) + "\n", "\n".join(groups) + "\n"


def derive(values: dict) -> dict:
    n = values["stations"]
    flows, groups = _st1(n, True)
    files = {"solution/flows/st1.flows": flows, "solution/flows/st1.groups": groups}
    for i in range(2, n + 1):
        flows, groups = _station(i, n, True)
        files[f"solution/flows/st{i}.flows"] = flows
        files[f"solution/flows/st{i}.groups"] = groups
    return {"__files__": files}
