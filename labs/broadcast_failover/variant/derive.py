"""Lab 8 for a ring of N stations: texts, and the starter and reference flows of every station.

Ports (from the broadcast_backbone topology): st1 1 = playout, 2 = monitor, 3 = st2, 4 = stN;
st_i (i > 1) 1 = rx_i, 2 = the previous station, 3 = the next one (st1 after stN). rx_i is
10.51.0.(i-1). The primary direction is the shorter way round the ring (ties go via st2).
"""

TRANSIT_COMMENT = (
    "# studio-bound traffic in transit: keep going, or bounce back the other way round the ring "
    "if the next fibre is cut"
)
WORDS = {4: ("four", "4"), 5: ("five", "5"), 6: ("six", "6")}
DIAGRAM_4 = """             playout(1) monitor(2)
                   [st1]
              3 /         \\ 4
             2 /           \\ 3
          [st2]             [st4]
         1 |   3 \\       / 2   | 1
          rx2     2 [st3] 3    rx4
                      1
                     rx3"""


def _diagram(n: int) -> str:
    if n == 4:
        return DIAGRAM_4
    lines = ["             playout(1) monitor(2)", f"                   [st1]   3 -> st2, 4 -> st{n}"]
    for i in range(2, n + 1):
        nxt = 1 if i == n else i + 1
        lines.append(f"          rx{i} (1) [st{i}]   2 -> st{i - 1}, 3 -> st{nxt}")
    return "\n".join(lines)


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
    files = {}
    for solution, folder in ((False, "starter"), (True, "solution")):
        flows, groups = _st1(n, solution)
        files[f"{folder}/flows/st1.flows"] = flows
        if solution:
            files[f"{folder}/flows/st1.groups"] = groups
        for i in range(2, n + 1):
            flows, groups = _station(i, n, solution)
            files[f"{folder}/flows/st{i}.flows"] = flows
            if solution:
                files[f"{folder}/flows/st{i}.groups"] = groups
    silenced = [f"rx{i}" for i in range(2, n + 1) if _via_st2(i, n)]
    rx = [f"`rx{i}`" for i in range(2, n + 1)]
    st = [f"`st{i}`" for i in range(2, n + 1)]
    plain_st = [f"st{i}" for i in range(2, n + 1)]
    return {
        "__files__": files,
        "last": n,
        "stations_word": WORDS[n][0],
        "stations_ja": WORDS[n][1],
        "n_rx": n - 1,
        "rx_list": ", ".join(rx),
        "rx_list_ja": "、".join(rx),
        "st_list": ", ".join(st),
        "st_list_ja": "、".join(st),
        "st_plain_and": ", ".join(plain_st[:-1]) + f" and {plain_st[-1]}",
        "st_plain_ja": "、".join(plain_st),
        "silenced": ", ".join(silenced[:-1]) + f" and {silenced[-1]}" if len(silenced) > 1 else silenced[0],
        "silenced_ja": " と ".join(silenced),
        "ring_diagram": _diagram(n),
    }
