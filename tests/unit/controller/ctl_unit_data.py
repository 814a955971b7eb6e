"""A small declared topology shared by the controller unit tests: h1 on s1, h2 on s2, VNF v1 between."""

H1, H2 = "00:00:00:00:00:01", "00:00:00:00:00:02"
BROADCAST = "ff:ff:ff:ff:ff:ff"

TOPOLOGY = {
    "nodes": [
        {"name": "s1", "kind": "switch", "dpid": 1, "interfaces": []},
        {"name": "s2", "kind": "switch", "dpid": 2, "interfaces": []},
        {"name": "h1", "kind": "host", "roles": ["client"], "interfaces": [{"mac": H1, "ip": "10.0.0.1"}]},
        {"name": "h2", "kind": "host", "roles": ["server"], "interfaces": [{"mac": H2, "ip": "10.0.0.2"}]},
        {
            "name": "v1",
            "kind": "vnf",
            "roles": [],
            "interfaces": [
                {"mac": "00:00:00:00:00:0a", "ip": None},
                {"mac": "00:00:00:00:00:0b", "ip": None},
            ],
        },
    ],
    "links": [
        {"a": "h1", "b": "s1", "a_port": 0, "b_port": 1},
        {"a": "h2", "b": "s2", "a_port": 0, "b_port": 1},
        {"a": "v1", "b": "s1", "a_port": 0, "b_port": 2},
        {"a": "v1", "b": "s2", "a_port": 1, "b_port": 2},
        {"a": "s1", "b": "s2", "a_port": 3, "b_port": 3, "delay_ms": 2.0, "bw_mbit": 100},
    ],
}
