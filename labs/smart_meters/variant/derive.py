"""Values derived from the number of meters for lab 3's templates (dc2 holds m4..mN, its WAN port is N-2)."""

WORDS = {4: "four", 5: "five", 6: "six"}


def derive(values: dict) -> dict:
    meters = values["meters"]
    dc2 = list(range(4, meters + 1))
    wan_port = len(dc2) + 1
    names = [f"m{i}" for i in dc2]
    up = [f"priority=100,in_port={p},actions=output:{wan_port}" for p in range(1, len(dc2) + 1)]
    down = []
    for port, i in enumerate(dc2, 1):
        down.append(f"priority=100,in_port={wan_port},ip,nw_dst=10.1.0.{i},actions=output:{port}")
        down.append(f"priority=100,in_port={wan_port},arp,arp_tpa=10.1.0.{i},actions=output:{port}")
    wan_ip, wan_arp = [], []
    for i in range(1, meters + 1):
        out = 1 if i <= 3 else 2
        wan_ip.append(f"priority=110,in_port=3,ip,nw_dst=10.1.0.{i},actions=output:{out}")
        wan_arp.append(f"priority=110,in_port=3,arp,arp_tpa=10.1.0.{i},actions=output:{out}")
    ports_row = " ".join(f"{p:>2}" for p in range(1, len(dc2) + 1))
    if meters == 6:
        hint_en, hint_ja = "dc1/dc2 1-3 = meters, 4 = wan;", "dc1/dc2 は 1-3 がメーター、4 が wan。"
    else:
        ports = "1" if len(dc2) == 1 else f"1-{len(dc2)}"
        hint_en = f"dc1 1-3 = meters, 4 = wan; dc2 {ports} = meters, {wan_port} = wan;"
        hint_ja = f"dc1 は 1-3 がメーター、4 が wan。dc2 は {ports} がメーター、{wan_port} が wan。"
    return {
        "ports_hint_en": hint_en,
        "ports_hint_ja": hint_ja,
        "meters_word": WORDS[meters],
        "dc2_meters": f"m4-m{meters}" if meters > 4 else "m4",
        "dc2_names": " ".join(names),
        "dc2_ports_row": ports_row.lstrip(),
        "dc2_wan": wan_port,
        "dc2_up": "\n".join(up),
        "dc2_down": "\n".join(down),
        "wan_meters": "\n".join(wan_ip + wan_arp),
        "dc2_meter_ports": "1" if len(dc2) == 1 else f"1-{len(dc2)}",
    }
