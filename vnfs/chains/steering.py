"""Static OpenFlow steering of a symmetric chain on one switch, as ``ovs-ofctl`` flow strings.

The chain is client -> vnf[0] -> ... -> vnf[n-1] -> server, each VNF a bump in the wire with
an ``inside`` port (towards the client) and an ``outside`` port (towards the server). Every
switch port has exactly one next hop, so steering is one ``in_port`` rule per port and the
return path runs through the same VNFs in reverse order (symmetric).
"""

from __future__ import annotations

from collections.abc import Sequence


def chain_hops(
    client_port: int, server_port: int, vnf_ports: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """(in_port, out_port) pairs for both directions of the chain."""
    hops = []
    previous = client_port
    for inside, outside in vnf_ports:
        hops.append((previous, inside))  # forward: into the VNF
        hops.append((inside, previous))  # return: out of the VNF towards the client
        previous = outside
    hops.append((previous, server_port))
    hops.append((server_port, previous))
    return hops


def chain_flows(
    client_port: int,
    server_port: int,
    vnf_ports: Sequence[tuple[int, int]],
    priority: int = 300,
    cookie: int = 0x5D1AB5F0,
) -> list[str]:
    """``ovs-ofctl add-flow`` specifications that steer the chain by input port."""
    return [
        f"cookie={cookie:#x},priority={priority},in_port={a},actions=output:{b}"
        for a, b in chain_hops(client_port, server_port, vnf_ports)
    ]


def flow_match(proto: int, src: str, sport: int, dst: str, dport: int) -> str:
    """An ``ovs-ofctl`` match for one direction of a TCP or UDP flow."""
    name = {6: "tcp", 17: "udp"}[proto]
    return f"{name},nw_src={src},nw_dst={dst},tp_src={sport},tp_dst={dport}"


def offload_flows(
    client_port: int,
    server_port: int,
    chain: Sequence[tuple[int, int, dict | None]],
    flow: tuple[int, str, int, str, int],
    priority: int = 400,
    idle_timeout: int = 10,
) -> list[str]:
    """Rules that carry one flow, both ways, through the VNFs of ``chain`` that still handle it.

    ``chain`` lists ``(inside_port, outside_port, offload)`` in chain order, where ``offload``
    is None (the VNF still sees the flow), ``{"action": "bypass"}`` or ``{"action": "rewrite",
    backend_ip, backend_port, backend_mac, vip_mac}`` (the switch does the VNF's NAT). ``flow``
    is the client's 5-tuple ``(proto, client, client_port, server_or_vip, port)``. Each rule
    matches the flow as it arrives at that switch port; a hop whose tuple was changed by a VNF
    that did not describe its rewrite simply never matches and the chain's steering applies.
    """
    proto, _client, _cport, _dst, _dport = flow
    l4 = {6: "tcp", 17: "udp"}[proto]

    def rule(in_port: int, t: tuple, actions: list[str], out: int) -> str:
        return (
            f"priority={priority},idle_timeout={idle_timeout},in_port={in_port},{flow_match(*t)},"
            f"actions={','.join([*actions, f'output:{out}'])}"
        )

    rules = []
    actions: list[str] = []
    before_rewrite: list[tuple] = []  # the 5-tuple before each rewrite, to undo on the way back
    port_in, arrive, current = client_port, flow, flow
    for inside, outside, offload in chain:
        if offload is None:
            rules.append(rule(port_in, arrive, actions, inside))
            port_in, arrive, actions = outside, current, []
        elif offload.get("action") == "rewrite":
            before_rewrite.append(current)
            if offload.get("backend_mac"):
                actions.append(f"set_field:{offload['backend_mac']}->eth_dst")
            actions += [
                f"set_field:{offload['backend_ip']}->ip_dst",
                f"set_field:{offload['backend_port']}->{l4}_dst",
            ]
            current = (proto, current[1], current[2], offload["backend_ip"], offload["backend_port"])
    rules.append(rule(port_in, arrive, actions, server_port))

    def reverse(t: tuple) -> tuple:
        return (t[0], t[3], t[4], t[1], t[2])

    port_in, arrive, current, actions = server_port, reverse(current), reverse(current), []
    for inside, outside, offload in reversed(chain):
        if offload is None:
            rules.append(rule(port_in, arrive, actions, outside))
            port_in, arrive, actions = inside, current, []
        elif offload.get("action") == "rewrite":
            pre = before_rewrite.pop()
            if offload.get("vip_mac"):
                actions.append(f"set_field:{offload['vip_mac']}->eth_src")
            actions += [f"set_field:{pre[3]}->ip_src", f"set_field:{pre[4]}->{l4}_src"]
            current = reverse(pre)
    rules.append(rule(port_in, arrive, actions, client_port))
    return rules
