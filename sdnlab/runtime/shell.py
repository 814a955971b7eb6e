"""``sdnlab cli``: an interactive shell over a running lab, in the manner of Mininet's CLI.

``h1 ping h2`` runs ``ping`` in h1 with h2 replaced by its address; ``pingall``, ``nodes``,
``net``, ``dump``, ``flows [SWITCH]``, ``link A B down|up``, ``sh CMD`` (root namespace) and
``exit`` are built in.
"""

from __future__ import annotations

import cmd
import shlex
import subprocess
from typing import Any

from sdnlab.runtime import api


class LabShell(cmd.Cmd):
    """Line-oriented shell for one lab."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.prompt = f"sdnlab({name})> "
        self.intro = f"lab {name}: type `help`, `nodes`, `h1 ping -c1 h2`, `pingall`, `exit`"

    def _state(self) -> dict[str, Any]:
        return api.status(self.name)

    def _hosts(self) -> dict[str, dict[str, Any]]:
        return {h["name"]: h for h in self._state().get("hosts", [])}

    def do_nodes(self, _arg: str) -> None:
        """List hosts and switches."""
        state = self._state()
        print("hosts:", " ".join(h["name"] for h in state.get("hosts", [])))
        print("switches:", " ".join(s["name"] for s in state.get("switches", [])))

    def do_net(self, _arg: str) -> None:
        """List links with their ports."""
        for link in self._state().get("links", []):
            print(f"{link['a']}:{link['a_port']} <-> {link['b']}:{link['b_port']}")

    def do_dump(self, _arg: str) -> None:
        """Show hosts with addresses and roles."""
        for h in self._state().get("hosts", []):
            print(f"{h['name']}: ip={h['ip']} mac={h['mac']} role={h['role']} pid={h['pid']}")

    def do_flows(self, arg: str) -> None:
        """flows [SWITCH]: dump OpenFlow rules."""
        for switch, text in api.dump_flows(self.name, arg.strip() or None).items():
            print(f"--- {switch}\n{text}")

    def do_pingall(self, _arg: str) -> None:
        """Ping every host from every host once; print the loss."""
        hosts = list(self._hosts().values())
        sent = lost = 0
        for src in hosts:
            row = []
            for dst in hosts:
                if dst is src or not dst.get("ip"):
                    continue
                sent += 1
                ok = api.run_in(self.name, src["name"], ["ping", "-c1", "-W1", dst["ip"]]).returncode == 0
                lost += not ok
                row.append(dst["name"] if ok else "X")
            print(f"{src['name']} -> {' '.join(row)}")
        print(f"*** Results: {100 * lost // max(sent, 1)}% dropped ({sent - lost}/{sent} received)")

    def do_link(self, arg: str) -> bool | None:
        """link A B down|up: take the link between two nodes down or bring it back."""
        from sdnlab.errors import SdnlabError
        from sdnlab.runtime import links

        words = arg.split()
        if len(words) != 3 or words[2] not in ("down", "up"):
            print("usage: link s1 s2 down|up")
            return False
        try:
            links.set_link(self.name, words[0], words[1], up=words[2] == "up")
        except SdnlabError as exc:
            print(f"error: {exc}")
            return False
        print(f"link {words[0]}-{words[1]} {words[2]}")
        return False

    def do_sh(self, arg: str) -> None:
        """sh CMD: run a command in the root namespace."""
        subprocess.run(arg, shell=True)

    def do_exit(self, _arg: str) -> bool | None:
        """Leave the shell (the lab keeps running)."""
        return True

    do_quit = do_exit
    do_EOF = do_exit

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> None:
        words = shlex.split(line)
        hosts = self._hosts()
        if not words or words[0] not in hosts:
            print(f"unknown command or host: {words[0] if words else line!r} (try `help` or `nodes`)")
            return
        argv = [
            hosts[w]["ip"] if w in hosts and i > 0 and hosts[w].get("ip") else w
            for i, w in enumerate(words[1:], 1)
        ]
        proc = api.popen_in(self.name, words[0], argv)
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
