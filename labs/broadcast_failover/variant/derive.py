"""Lab 8 for a ring of N stations: texts and the starter flows of every station (the reference
flows are instructor data: instructor/labs/broadcast_failover/variant/derive.py).

Ports (from the broadcast_backbone topology): st1 1 = playout, 2 = monitor, 3 = st2, 4 = stN;
st_i (i > 1) 1 = rx_i, 2 = the previous station, 3 = the next one (st1 after stN). rx_i is
10.51.0.(i-1). The primary direction is the shorter way round the ring (ties go via st2).
"""

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


def _st1(n: int) -> str:
    lines = [
        f"# st1 (playout centre): playout = port 1, monitor = port 2, st2 = port 3, st{n} = port 4",
        "priority=100,ip,nw_dst=10.50.0.1,actions=output:1",
        "priority=100,arp,arp_tpa=10.50.0.1,actions=output:1",
        "priority=100,ip,nw_dst=10.50.0.2,actions=output:2",
        "priority=100,arp,arp_tpa=10.50.0.2,actions=output:2",
    ]
    lines.append("# each receiver on its shortest fibre: a cut loses the feed until someone reprograms st1")
    for i in range(2, n + 1):
        first = 3 if _via_st2(i, n) else 4
        lines.append(f"priority=100,ip,nw_dst=10.51.0.{i - 1},actions=output:{first}")
        lines.append(f"priority=100,arp,arp_tpa=10.51.0.{i - 1},actions=output:{first}")
    lines.append("priority=0,actions=drop")
    return "\n".join(lines) + "\n"


def _station(i: int, n: int) -> str:
    home = 2 if _via_st2(i, n) else 3
    lines = [
        f"# st{i}: rx{i} = port 1, ring ports 2 and 3",
        f"priority=200,ip,nw_dst=10.51.0.{i - 1},actions=output:1",
        f"priority=200,arp,arp_tpa=10.51.0.{i - 1},actions=output:1",
        "# transit around the ring: what enters on one ring port leaves on the other",
        "priority=100,in_port=2,actions=output:3",
        "priority=100,in_port=3,actions=output:2",
        "# replies to the studio: the shortest way to st1",
        f"priority=150,in_port=1,actions=output:{home}",
        "priority=0,actions=drop",
    ]
    return "\n".join(lines) + "\n"


def derive(values: dict) -> dict:
    n = values["stations"]
    files = {"starter/flows/st1.flows": _st1(n)}
    for i in range(2, n + 1):
        files[f"starter/flows/st{i}.flows"] = _station(i, n)
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
