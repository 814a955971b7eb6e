"""A throw-away test network: client and server namespaces on one OVS userspace bridge, plus
VNF namespaces attached to it by two veths each, with static chain steering.

Every name carries the given prefix (``vn`` by default) so it cannot collide with anyone
else's namespaces, links or bridges, and ``close()`` removes exactly what was created. VNF
processes are started with ``start_vnf`` (the runner module inside ``ip netns exec``) and
stopped by pid. Addresses: client 10.<net>.0.1, server 10.<net>.0.2 (/24).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sdnlab.vnfs.chains.steering import chain_flows, offload_flows
from sdnlab.vnfs.errors import VnfRunError


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, raising with its stderr when it fails and ``check`` is set."""
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


@dataclass
class VnfNode:
    """A VNF namespace with its inside/outside interfaces and switch ports."""

    name: str
    netns: str
    inside: str
    outside: str
    inside_ofport: int
    outside_ofport: int
    proc: subprocess.Popen | None = None
    state_dir: Path | None = None


@dataclass
class Testbed:
    """client -- OVS (netdev) -- server, with optional bump-in-the-wire VNF namespaces."""

    __test__ = False  # not a pytest class, despite its name

    prefix: str = "vn"
    net: int = 77
    vnf_names: tuple[str, ...] = ()
    state_root: Path = Path("/tmp/sdnlab-vnf-testbed")
    bridge: str = ""
    vnfs: list[VnfNode] = field(default_factory=list)
    _netns: list[str] = field(default_factory=list)
    _links: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        """The prefix plus the network number: every name this testbed creates starts with it."""
        return f"{self.prefix}{self.net}"

    @property
    def client(self) -> str:
        return f"{self.tag}c"

    @property
    def server(self) -> str:
        return f"{self.tag}s"

    @property
    def server_interface(self) -> str:
        """The server's interface (in the server namespace)."""
        return f"{self.tag}s0"

    def server_mac(self) -> str:
        """The MAC address of the server's interface."""
        return self.run(self.server, "cat", f"/sys/class/net/{self.server_interface}/address").stdout.strip()

    @property
    def client_ip(self) -> str:
        return f"10.{self.net}.0.1"

    @property
    def server_ip(self) -> str:
        return f"10.{self.net}.0.2"

    def _ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self._netns.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def _veth(self, ns: str, inner: str, outer: str, ofport: int) -> None:
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        self._links.append(outer)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "-n", ns, "link", "set", inner, "up")
        for where in ([], ["ip", "netns", "exec", ns]):
            sh(*where, "ethtool", "-K", inner if where else outer, "tx", "off", "rx", "off", check=False)
        sh(
            "ovs-vsctl",
            "add-port",
            self.bridge,
            outer,
            "--",
            "set",
            "interface",
            outer,
            f"ofport_request={ofport}",
        )

    def _vnf_ns(self, name: str) -> str:
        """The namespace of VNF ``name`` (``v`` keeps it apart from the client's and server's)."""
        return f"{self.tag}v{name}"

    def _remove_leftovers(self) -> None:
        """Delete what a killed run of this same testbed (same names) may have left behind."""
        names = [self.client, self.server, *(self._vnf_ns(n) for n in self.vnf_names)]
        existing = sh("ip", "netns", "list", check=False).stdout.split()
        for ns in names:
            if ns in existing:
                for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                    sh("kill", "-9", pid, check=False)
                sh("ip", "netns", "del", ns, check=False)
        sh("ovs-vsctl", "--if-exists", "del-br", f"{self.prefix}br{self.net}", check=False)
        for link in [
            f"{self.tag}co",
            f"{self.tag}so",
            *(f"{self._vnf_ns(n)}{e}" for n in self.vnf_names for e in "IO"),
        ]:
            sh("ip", "link", "del", link, check=False)

    def build(self) -> Testbed:
        """Create namespaces, veths, the bridge, and the steering rules (no VNFs: plain L2 path)."""
        self._remove_leftovers()
        self.bridge = f"{self.prefix}br{self.net}"
        try:
            sh(
                "ovs-vsctl",
                "add-br",
                self.bridge,
                "--",
                "set",
                "bridge",
                self.bridge,
                "datapath_type=netdev",
                "fail-mode=secure",
            )
            sh("ip", "link", "set", self.bridge, "up", check=False)
            self._ns(self.client)
            self._ns(self.server)
            self._veth(self.client, f"{self.tag}c0", f"{self.tag}co", 1)
            self._veth(self.server, self.server_interface, f"{self.tag}so", 2)
            sh("ip", "-n", self.client, "addr", "add", f"{self.client_ip}/24", "dev", f"{self.tag}c0")
            sh("ip", "-n", self.server, "addr", "add", f"{self.server_ip}/24", "dev", self.server_interface)
            for i, name in enumerate(self.vnf_names):
                ns = self._vnf_ns(name)
                self._ns(ns)
                node = VnfNode(name, ns, f"{ns}i", f"{ns}o", 10 + 2 * i, 11 + 2 * i)
                self._veth(ns, node.inside, f"{ns}I", node.inside_ofport)
                self._veth(ns, node.outside, f"{ns}O", node.outside_ofport)
                self.vnfs.append(node)
            self.steer()
        except Exception:
            self.close()
            raise
        return self

    def steer(self, through: list[str] | None = None) -> None:
        """Replace the bridge's rules: a symmetric chain through the named VNFs (all by default)."""
        names = self.vnf_names if through is None else through
        self.steered = [v.name for v in self.vnfs if v.name in names]
        ports = [(v.inside_ofport, v.outside_ofport) for v in self.vnfs if v.name in names]
        sh("ovs-ofctl", "-O", "OpenFlow13", "del-flows", self.bridge)
        for flow in chain_flows(1, 2, ports):
            sh("ovs-ofctl", "-O", "OpenFlow13", "add-flow", self.bridge, flow)

    def run(self, ns: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command in a namespace and capture its output."""
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
        )

    def popen(self, ns: str, *argv: str, **kwargs) -> subprocess.Popen:
        """Start a command in a namespace."""
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)

    def start_vnf(
        self,
        name: str,
        kind: str,
        config: str | None = None,
        workers: int = 1,
        mode: str = "recv",
        timeout: float = 15.0,
    ) -> VnfNode:
        """Start the runner for VNF ``name`` and wait until its stats file appears."""
        node = next(v for v in self.vnfs if v.name == name)
        node.state_dir = self.state_root / self.tag / name
        node.state_dir.mkdir(parents=True, exist_ok=True)
        # the folder describes this run only: stats and meta (*.json), and the event log and
        # offload requests (*.jsonl), which the VNF appends to. Kept from an earlier run, the
        # offload agent replayed every old request (one ovs-ofctl each) before the new ones, and
        # a test reading the log could find events the new run never logged.
        for old in [*node.state_dir.glob("*.json"), *node.state_dir.glob("*.jsonl")]:
            old.unlink()
        argv = [
            sys.executable,
            "-m",
            "sdnlab.vnfs.framework.runner",
            "--kind",
            kind,
            "--name",
            name,
            "--port",
            f"inside={node.inside}",
            "--port",
            f"outside={node.outside}",
            "--state-dir",
            str(node.state_dir),
            "--workers",
            str(workers),
            "--mode",
            mode,
        ]
        if config:
            argv += ["--config", config]
        with open(node.state_dir / "stderr.log", "w") as err:
            node.proc = self.popen(node.netns, *argv, stdout=err, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"VNF {name} exited: {(node.state_dir / 'stderr.log').read_text()[-500:]}")
            if all((node.state_dir / f"stats-w{i}.json").exists() for i in range(workers)):
                return node
            time.sleep(0.05)
        raise RuntimeError(f"VNF {name} did not start within {timeout}s")

    def vnf_stats(self, name: str) -> dict:
        """The merged stats files of a running VNF (refreshed by the VNF every second)."""
        from sdnlab.vnfs.manage import merge_stats

        node = next(v for v in self.vnfs if v.name == name)
        if node.state_dir is None:
            raise VnfRunError(f"VNF {name!r} has not been started")
        parts = [json.loads(p.read_text()) for p in sorted(node.state_dir.glob("stats-w*.json"))]
        return merge_stats(parts)

    def signal_vnf(self, name: str, signum: int) -> None:
        """Send a signal to the VNF's runner (through the ``ip netns exec`` process, which it replaced)."""
        node = next(v for v in self.vnfs if v.name == name)
        if node.state_dir is None:
            raise VnfRunError(f"VNF {name!r} has not been started")
        meta = json.loads((node.state_dir / "meta.json").read_text())
        os.kill(meta["pid"], signum)

    def stop_vnf(self, name: str) -> None:
        """Stop a VNF started by ``start_vnf``."""
        node = next(v for v in self.vnfs if v.name == name)
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
            try:
                node.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        node.proc = None

    def start_offload_agent(self) -> OffloadAgent:
        """Follow the VNFs' offload requests and install bypass rules (see ``OffloadAgent``)."""
        agent = OffloadAgent(self)
        agent.start()
        self.agent = agent
        return agent

    def close(self) -> None:
        """Stop VNFs and remove everything this testbed created."""
        agent = getattr(self, "agent", None)
        if agent is not None:
            agent.stop()
        for node in self.vnfs:
            self.stop_vnf(node.name)
        for ns in self._netns:
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        if self.bridge:
            sh("ovs-vsctl", "--if-exists", "del-br", self.bridge, check=False)
        for link in self._links:
            sh("ip", "link", "del", link, check=False)
        for ns in self._netns:
            sh("ip", "netns", "del", ns, check=False)
        self._netns.clear()
        self._links.clear()


class OffloadAgent:
    """Plays the controller's part for offloading on the testbed: it tails each VNF's
    ``offload.jsonl`` and, per flow, installs rules that skip every VNF that asked for a bypass
    (the others still see the flow), in both directions, expiring when the flow goes idle."""

    def __init__(self, testbed: Testbed, interval: float = 0.05):
        self.testbed = testbed
        self.interval = interval
        self.offsets: dict[str, int] = {}
        self.offloaded: dict[tuple, dict[str, dict]] = {}  # client 5-tuple -> vnf -> request
        self.installed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="offload-agent", daemon=True)

    def start(self) -> None:
        """Start following the offload files."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the agent thread."""
        self._stop.set()
        self._thread.join(timeout=2)

    def poll(self) -> int:
        """Read new requests and install their rules; returns how many requests were handled."""
        tb = self.testbed
        handled = 0
        for node in tb.vnfs:
            if node.state_dir is None:
                continue
            path = node.state_dir / "offload.jsonl"
            if not path.exists():
                continue
            with open(path) as handle:
                handle.seek(self.offsets.get(node.name, 0))
                lines = handle.readlines()
                self.offsets[node.name] = handle.tell()
            for line in lines:
                request = json.loads(line)
                if request.get("action") not in ("bypass", "rewrite") or request["proto"] not in (6, 17):
                    continue
                self._offload(node.name, request)
                handled += 1
        return handled

    def _offload(self, vnf: str, r: dict) -> None:
        tb = self.testbed
        if r["src"] == tb.client_ip:
            flow = (r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
        else:
            flow = (r["proto"], r["dst"], r["dport"], r["src"], r["sport"])
        self.offloaded.setdefault(flow, {})[vnf] = r
        done = self.offloaded[flow]
        chain = [
            (v.inside_ofport, v.outside_ofport, done.get(v.name))
            for v in tb.vnfs
            if v.name in getattr(tb, "steered", [])
        ]
        flows = offload_flows(1, 2, chain, flow)
        subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flows", tb.bridge, "-"],
            input="\n".join(flows) + "\n",
            capture_output=True,
            text=True,
        )
        self.installed += len(flows)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except (OSError, ValueError, KeyError):
                pass
            self._stop.wait(self.interval)
