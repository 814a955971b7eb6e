"""The built-in controller's routing logic: decides the messages for every switch.

``Fabric`` keeps a ``DiscoveredNetwork`` and answers each event (switch up/down, port status, LLDP
probe seen, packet-in, quarantine) with ``{dpid: [messages]}``; it never sends anything, so it
is unit-tested offline. Time arrives as ``now`` arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sdnlab.controller import discovery, ofmsg
from sdnlab.controller.config import ControllerConfig
from sdnlab.controller.l2 import PacketIn, is_multicast, reset_flows
from sdnlab.controller.network import DiscoveredNetwork, Host
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.pipeline import COOKIE_BUILTIN, INGRESS, PRIORITY_DISCOVERY
from sdnlab.controller.quarantine import Quarantined, quarantine_msgs, resolve
from sdnlab.controller.routing import PathCache, Route, clear_host_msgs, route_msgs, routes_to
from sdnlab.controller.sfc import chain_msgs, clear_msgs

__all__ = ["Fabric", "Quarantined", "discovery_flows", "quarantine_msgs"]

LOG = logging.getLogger("sdnlab.controller.fabric")

GROUP_ID_BASE = 1000
DISCOVERY_GRACE_S = 1.5  # without a declared topology, no flooding until LLDP had a chance


def discovery_flows() -> list:
    """ARP and LLDP always go to the controller (it answers ARP and learns every host from it)."""
    to_controller = [ofmsg.apply_actions([ofmsg.output(ofmsg.OFPP_CONTROLLER)])]
    return [
        ofmsg.flow_add(
            INGRESS.table_id,
            PRIORITY_DISCOVERY,
            ofmsg.match(eth_type=eth_type),
            to_controller,
            cookie=COOKIE_BUILTIN,
        )
        for eth_type in (ofmsg.ETH_TYPE_ARP, ofmsg.ETH_TYPE_LLDP)
    ]


@dataclass
class Fabric:
    """Shortest-path routing, loop-safe flooding, proxy ARP, failover and quarantine."""

    config: ControllerConfig
    state: DiscoveredNetwork = field(default_factory=DiscoveredNetwork)
    quarantined: dict[str, Quarantined] = field(default_factory=dict)  # key (mac or ip) -> entry
    group_ids: dict[str, int] = field(default_factory=dict)  # host mac -> group id
    groups_installed: dict[int, set[int]] = field(default_factory=dict)  # dpid -> group ids
    connected_at: dict[int, float] = field(default_factory=dict)  # dpid -> time of connection
    installed: dict[tuple[int, str], Route] = field(
        default_factory=dict
    )  # (dpid, mac) -> route on the switch

    # -- whole-network recomputation ------------------------------------------------------
    def _group_id(self, mac: str) -> int:
        if mac not in self.group_ids:
            self.group_ids[mac] = GROUP_ID_BASE + len(self.group_ids)
        return self.group_ids[mac]

    def host_routes(self, host: Host, graph=None, cache: PathCache | None = None) -> dict[int, list]:
        """Messages installing the routes towards ``host`` on every reachable switch."""
        graph = graph if graph is not None else self.state.graph(self.config.weight)
        out: dict[int, list] = {}
        for route in routes_to(graph, host, self.config.protection, cache):
            previous = self.installed.get((route.dpid, host.mac))
            if previous == route:
                continue  # already on the switch: only changed routes are rewritten
            self.installed[(route.dpid, host.mac)] = route
            gid = self._group_id(host.mac)
            installed = self.groups_installed.setdefault(route.dpid, set())
            msgs = route_msgs(route, gid, gid in installed, previous)
            if route.backup_port is not None:
                installed.add(gid)
            out.setdefault(route.dpid, []).extend(msgs)
        return out

    def all_routes(self) -> dict[int, list]:
        """Messages (re)installing the routes to every known host and every service chain."""
        graph = self.state.graph(self.config.weight)
        cache = PathCache(graph)
        out: dict[int, list] = {}
        for host in list(self.state.hosts.values()):
            try:
                routes = self.host_routes(host, graph, cache)
            except Exception as exc:  # one host's bad data must not leave every switch unprogrammed
                LOG.error("routes to host %s skipped: %s: %s", host.mac, type(exc).__name__, exc)
                continue
            for dpid, msgs in routes.items():
                out.setdefault(dpid, []).extend(msgs)
        for dpid, msgs in self.chain_flows(graph).items():
            out.setdefault(dpid, []).extend(msgs)
        return out

    @property
    def vnf_names(self) -> set[str]:
        return {name for chain in self.config.chains for name in chain.vnfs}

    def mark_chain_vnfs(self) -> None:
        """Treat the interfaces of every chained VNF host as VNF ports (no flooding, no learning)."""
        for name in self.vnf_names:
            for mac in self.state.host_macs.get(name, ()):
                host = self.state.hosts.get(mac)
                if host is not None:
                    self.state.vnf_ports.add((host.dpid, host.port_no))

    def chain_flows(self, graph=None) -> dict[int, list]:
        """Steering flows of every configured chain (after clearing the old ones)."""
        if not self.config.chains:
            return {}
        graph = graph if graph is not None else self.state.graph(self.config.weight)
        out: dict[int, list] = {dpid: clear_msgs() for dpid in self.state.ports}
        for index, chain in enumerate(self.config.chains):
            for dpid, msgs in chain_msgs(chain, index, self.state, graph, self.vnf_names).items():
                if dpid in out:
                    out[dpid].extend(msgs)
        return out

    # -- switch and port events -----------------------------------------------------------
    def switch_up(self, now: float, dpid: int, live_ports: set[int]) -> dict[int, list]:
        """A (re)connected switch gets a clean pipeline, quarantines, every route and LLDP probes."""
        self.state.switch_up(dpid, live_ports)
        self.connected_at[dpid] = now
        self.groups_installed[dpid] = set()
        self._forget_installed(dpid)
        out = {dpid: reset_flows() + discovery_flows()}
        for entry in self._unique_quarantines():
            try:
                out[dpid].extend(quarantine_msgs(entry))
            except Exception as exc:  # one bad entry must not leave the switch unprogrammed
                LOG.error("switch %016x: quarantine %s skipped: %s: %s", dpid, entry, type(exc).__name__, exc)
        for other, msgs in self.all_routes().items():
            out.setdefault(other, []).extend(msgs)
        out[dpid].extend(self.probes().get(dpid, []))
        return out

    def _forget_installed(self, dpid: int) -> None:
        for key in [k for k in self.installed if k[0] == dpid]:
            del self.installed[key]

    def switch_down(self, dpid: int) -> dict[int, list]:
        self.state.switch_down(dpid)
        self.groups_installed.pop(dpid, None)
        self._forget_installed(dpid)
        return self.all_routes()

    def port_changed(self, dpid: int, port_no: int, up: bool) -> dict[int, list]:
        """Reroute when a port carrying a link goes down or comes back."""
        changed = self.state.port_up(dpid, port_no) if up else self.state.port_down(dpid, port_no)
        out = {} if up else self._forget_hosts_at({(dpid, port_no)})
        if changed:
            _merge(out, self.all_routes())
        return out

    def _forget_hosts_at(self, ends: set[tuple[int, int]]) -> dict[int, list]:
        """Forget learned (not declared) hosts at these ports and remove their flows everywhere."""
        out: dict[int, list] = {}
        for host in [h for h in self.state.hosts.values() if (h.dpid, h.port_no) in ends and not h.declared]:
            del self.state.hosts[host.mac]
            for key in [k for k in self.installed if k[1] == host.mac]:
                del self.installed[key]
            for dpid in self.state.ports:
                out.setdefault(dpid, []).extend(clear_host_msgs(host.mac))
        return out

    def lldp_seen(self, dpid: int, in_port: int, data: bytes) -> dict[int, list]:
        """An LLDP probe from another switch arrived: record the link, reroute if it is new."""
        probe = discovery.parse_lldp_probe(data)
        if probe is None or probe[0] not in self.state.ports:
            return {}
        if self.state.add_link(probe, (dpid, in_port)):
            out = self._forget_hosts_at(
                {probe, (dpid, in_port)}
            )  # hosts "seen" on a link port were mislearned
            _merge(out, self.all_routes())
            return out
        return {}

    def probes(self) -> dict[int, list]:
        """LLDP probe packet-outs for every live port of every switch."""
        return {
            dpid: [
                ofmsg.packet_out(
                    ofmsg.OFPP_CONTROLLER, [ofmsg.output(port)], discovery.lldp_probe(dpid, port)
                )
                for port in sorted(ports)
            ]
            for dpid, ports in self.state.ports.items()
        }

    # -- packets --------------------------------------------------------------------------
    def in_grace(self, now: float, dpid: int) -> bool:
        """True while links of ``dpid`` may still be undiscovered (no declared topology)."""
        if self.state.declared_links:
            return False
        return now - self.connected_at.get(dpid, now) < DISCOVERY_GRACE_S

    def packet_in(self, now: float, pkt: PacketIn) -> dict[int, list]:
        """Learn the sender, then deliver the packet without ever flooding along a loop."""
        out: dict[int, list] = {}
        if pkt.eth_type == ofmsg.ETH_TYPE_LLDP:
            return self.lldp_seen(pkt.dpid, pkt.in_port, pkt.data)
        if self.in_grace(now, pkt.dpid):
            return {}
        arp_header = discovery.parse_arp(pkt.data) if pkt.eth_type == ofmsg.ETH_TYPE_ARP else None
        sender_ip = arp_header.src_ip if arp_header is not None else discovery.parse_ipv4_src(pkt.data)
        if self._is_quarantined(pkt.eth_src, sender_ip):
            return {}
        at_vnf = (pkt.dpid, pkt.in_port) in self.state.vnf_ports
        if (
            not self.state.is_link_port(pkt.dpid, pkt.in_port)
            and not is_multicast(pkt.eth_src)
            and not at_vnf
        ):
            own_ip = None if self.config.vip_owner(sender_ip) else sender_ip  # a VIP is not the host's own IP
            if self.state.learn_host(pkt.eth_src, pkt.dpid, pkt.in_port, own_ip):
                out = self.host_routes(self.state.hosts[pkt.eth_src])
        if arp_header is not None and arp_header.opcode == 1:
            target = self.state.host_by(self.config.vip_owner(arp_header.dst_ip) or arp_header.dst_ip)
            if target is not None and target.mac != pkt.eth_src:
                reply = discovery.arp_reply(
                    arp_header.src_mac, arp_header.src_ip, target.mac, arp_header.dst_ip
                )
                _append(
                    out, pkt.dpid, ofmsg.packet_out(ofmsg.OFPP_CONTROLLER, [ofmsg.output(pkt.in_port)], reply)
                )
                return out
        dst = None if is_multicast(pkt.eth_dst) else self.state.hosts.get(pkt.eth_dst)
        if dst is not None and dst.dpid in self.state.ports:
            _append(
                out, dst.dpid, ofmsg.packet_out(ofmsg.OFPP_CONTROLLER, [ofmsg.output(dst.port_no)], pkt.data)
            )
            return out
        for dpid in self.state.ports:
            ports = [p for p in self.state.flood_ports(dpid) if (dpid, p) != (pkt.dpid, pkt.in_port)]
            if ports:
                _append(
                    out,
                    dpid,
                    ofmsg.packet_out(ofmsg.OFPP_CONTROLLER, [ofmsg.output(p) for p in ports], pkt.data),
                )
        return out

    # -- quarantine -----------------------------------------------------------------------
    def _unique_quarantines(self) -> list[Quarantined]:
        return list({id(e): e for e in self.quarantined.values()}.values())

    def _is_quarantined(self, mac: str, ip: str | None) -> bool:
        return mac in self.quarantined or (ip is not None and ip in self.quarantined)

    def quarantine(self, key: str, reason: str = "") -> tuple[Quarantined, dict[int, list]]:
        """Drop everything the host named by ``key`` (MAC, IP or declared name) sends.

        Raises ``BadRequest`` (and changes nothing) if ``key`` is no known host, MAC or IPv4 address.
        """
        entry = resolve(key, self.state, reason)
        if entry is None:
            raise BadRequest(f"{key[:40]!r} is not a known host, a MAC or an IPv4 address")
        msgs = quarantine_msgs(entry)  # built before any state changes
        for k in (entry.mac, entry.ip):
            if k:
                self.quarantined[k] = entry
        return entry, {dpid: list(msgs) for dpid in self.state.ports}

    def release(self, key: str) -> tuple[Quarantined | None, dict[int, list]]:
        """Lift the quarantine of the host named by ``key``."""
        entry = self.quarantined.get(key.lower())
        if entry is None:
            host = self.state.host_by(key)
            entry = self.quarantined.get(host.mac) if host else None
        if entry is None:
            return None, {}
        for k in (entry.mac, entry.ip):
            if k:
                self.quarantined.pop(k, None)
        try:
            msgs = quarantine_msgs(entry, add=False)
        except Exception as exc:  # an entry no switch could hold has no rule to remove
            LOG.error("quarantine %s released without removing rules: %s: %s", entry, type(exc).__name__, exc)
            msgs = []
        return entry, {dpid: list(msgs) for dpid in self.state.ports}

    def quarantine_list(self) -> list[dict]:
        return [{"mac": e.mac, "ip": e.ip, "reason": e.reason} for e in self._unique_quarantines()]


def _append(out: dict[int, list], dpid: int, msg) -> None:
    out.setdefault(dpid, []).append(msg)


def _merge(out: dict[int, list], more: dict[int, list]) -> None:
    for dpid, msgs in more.items():
        out.setdefault(dpid, []).extend(msgs)
