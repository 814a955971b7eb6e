"""The trainee's terminal: a restricted shell over one sandbox, not a root shell on the host.

The agent starts it on a pseudo-terminal (``python -m sdnlab.classroom.tshell --sandbox NAME
--workdir DIR``). It runs no shell and no command it does not know: every line is parsed with
``shlex`` into an argument list and checked against the rules below, then executed without a
shell. What a trainee can do:

- ``ovs-ofctl SUBCOMMAND SWITCH [ARGS]`` on the sandbox's own switches only (``s1``/``core``;
  the OVS bridge names of other sandboxes are refused), OpenFlow 1.3; ``add-flows``/``replace-
  flows`` read files from the workspace only;
- ``HOST COMMAND [ARGS]`` in one of the sandbox's hosts (Mininet style, ``m1 ping -c1 hes``,
  host names replaced by their addresses) for network tools only: ``ping``, ``arping``,
  ``traceroute``, ``tracepath``, ``iperf3``, ``curl`` (http/https, no output files), ``ip``
  (show only), ``arp``, ``ss``, ``tcpdump`` (no files);
- ``nodes``, ``net``, ``pingall``, ``flows [SWITCH]``, ``files``, ``cat FILE`` (workspace),
  ``deploy`` (put the workspace on the lab), ``help``, ``exit``.

Everything else (``sh``, ``bash``, ``cat /etc/passwd``, ``m1 sh``, ``curl file://``,
``tcpdump -w``) is refused with one line saying what is allowed.
"""

from __future__ import annotations

import argparse
import cmd
import os
import shlex
import signal
import subprocess
from pathlib import Path

OFCTL_READ = {
    "show", "dump-flows", "dump-aggregate", "dump-ports", "dump-ports-desc", "dump-tables",
    "dump-table-features", "dump-groups", "dump-group-stats", "dump-meters", "queue-stats",
}  # fmt: skip
OFCTL_WRITE = {"add-flow", "del-flows", "mod-flows", "add-group", "mod-group", "del-groups"}
OFCTL_FILES = {"add-flows", "replace-flows", "diff-flows"}
OFCTL_OPTIONS = {"--names", "--no-names", "--no-stats", "--sort", "--rsort", "--read-only"}
HOST_TOOLS: dict[str, set[str]] = {  # tool -> refused options (prefixes)
    "ping": set(),
    "arping": set(),
    "traceroute": set(),
    "tracepath": set(),
    "iperf3": {"--logfile", "-F", "--file", "--pidfile", "-I", "--rsa", "--authorized", "--username"},
    "curl": {"-o", "-O", "--output", "--remote-name", "-K", "--config", "-T", "--upload", "-D", "--dump",
             "-c", "--cookie-jar", "--trace", "--stderr", "-F", "--form", "-d", "--data", "--libcurl",
             "--unix-socket", "--abstract", "-x", "--proxy", "--engine", "--cacert", "--capath", "-E",
             "--cert", "--key", "--netrc", "-n"},
    "ip": set(),
    "arp": {"-f", "--file"},
    "ss": {"-F", "--filter", "-D", "--diag"},
    "tcpdump": {"-w", "-r", "-z", "-Z", "-F", "-V", "-C", "-G", "-W", "--print"},
}  # fmt: skip
IP_OBJECTS = {
    "addr",
    "address",
    "a",
    "route",
    "r",
    "link",
    "l",
    "neigh",
    "n",
    "-4",
    "-6",
    "-s",
    "-br",
    "-brief",
}


class Refused(Exception):
    """A command line the trainee's terminal does not run."""


def refused_option(arg: str, refused: set[str]) -> bool:
    """True when ``arg`` is (or, as a cluster of short flags like ``-sSo``, contains) a refused option."""
    if arg.startswith("--"):
        return any(b.startswith("--") and (arg == b or arg.startswith(b)) for b in refused)
    if arg.startswith("-") and len(arg) > 1:
        return any(f"-{c}" in refused for c in arg[1:])
    return False


def check_host_command(argv: list[str]) -> list[str]:
    """``argv`` if it is an allowed network tool call; ``Refused`` otherwise."""
    tool, args = argv[0], argv[1:]
    if tool not in HOST_TOOLS:
        raise Refused(f"{tool}: not available here; host tools: {', '.join(sorted(HOST_TOOLS))}")
    for arg in args:
        if refused_option(arg, HOST_TOOLS[tool]):
            raise Refused(f"{tool} {arg}: this option is not allowed here")
    if tool == "curl" and any("://" in a and not a.startswith(("http://", "https://")) for a in args):
        raise Refused("curl: only http:// and https:// addresses")
    if tool == "curl" and any(a.startswith("@") or "=@" in a or "=<" in a for a in args):
        raise Refused("curl: no file uploads")
    if tool == "ip":
        words = [a for a in args if not a.startswith("-")]
        if (
            not words
            or words[0] not in IP_OBJECTS
            or any(w not in ("show", "list", "ls") for w in words[1:2])
        ):
            raise Refused("ip: only `ip addr|route|link|neigh [show]`")
        if len(words) > 2 and words[2] not in ("dev",):
            raise Refused("ip: only `ip addr|route|link|neigh [show] [dev DEV]`")
    return argv


def check_ofctl(args: list[str], bridges: dict[str, str], workdir: Path) -> list[str]:
    """The ``ovs-ofctl`` argument list for the sandbox's own switch; ``Refused`` otherwise."""
    options = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    for option in options:
        if option not in OFCTL_OPTIONS:
            raise Refused(f"ovs-ofctl {option}: options allowed: {', '.join(sorted(OFCTL_OPTIONS))}")
    if len(words) < 2:
        raise Refused("usage: ovs-ofctl SUBCOMMAND SWITCH [ARGS]  (e.g. ovs-ofctl dump-flows s1)")
    sub, switch, rest = words[0], words[1], words[2:]
    if sub not in OFCTL_READ | OFCTL_WRITE | OFCTL_FILES:
        raise Refused(f"ovs-ofctl {sub}: not available here")
    if switch not in bridges:
        raise Refused(f"ovs-ofctl: no switch {switch!r} in your lab (switches: {', '.join(bridges)})")
    if sub in OFCTL_FILES:
        if len(rest) != 1:
            raise Refused(f"usage: ovs-ofctl {sub} SWITCH FILE")
        rest = [str(workspace_file(workdir, rest[0]))]
    return ["ovs-ofctl", "-O", "OpenFlow13", *options, sub, bridges[switch], *rest]


def workspace_file(workdir: Path, name: str) -> Path:
    """A file inside the workspace (symlinks resolved); ``Refused`` for anything outside."""
    root = workdir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Refused(f"{name}: not a file of your workspace (see `files`)")
    return path


class TraineeShell(cmd.Cmd):
    """The restricted shell of one sandbox."""

    def __init__(self, sandbox: str, workdir: Path, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = sandbox
        self.workdir = workdir
        self.prompt = f"[{sandbox}]$ "
        switch, host = next(iter(self._bridges()), "s1"), next(iter(self._hosts()), "h1")
        self.intro = (
            f"lab sandbox {sandbox}: type `help`. "
            f"Try `nodes`, `ovs-ofctl dump-flows {switch}`, `{host} ping -c1 ...`"
        )

    # -- lab state -------------------------------------------------------------------
    def _state(self) -> dict:
        from sdnlab.runtime import api

        return api.status(self.sandbox)

    def _hosts(self) -> dict[str, dict]:
        try:
            return {h["name"]: h for h in self._state().get("hosts", [])}
        except Exception:
            return {}

    def _bridges(self) -> dict[str, str]:
        try:
            return {s["name"]: s["bridge"] for s in self._state().get("switches", [])}
        except Exception:
            return {}

    def _run(self, argv: list[str], host: str | None = None) -> None:
        from sdnlab.runtime import api

        proc = api.popen_in(self.sandbox, host, argv) if host else subprocess.Popen(argv)
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait()

    # -- commands ----------------------------------------------------------------------
    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except Refused as exc:
            print(f"refused: {exc}")
        except ValueError as exc:  # shlex: unbalanced quotes
            print(f"error: {exc}")
        except Exception as exc:  # a lab error (host gone, lab down): one line, the shell goes on
            print(f"error: {exc}")
        return False

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> None:
        argv = shlex.split(line)
        if not argv:
            return
        if argv[0] == "ovs-ofctl":
            self._run(check_ofctl(argv[1:], self._bridges(), self.workdir))
            return
        hosts = self._hosts()
        if argv[0] in hosts:
            if len(argv) < 2:
                raise Refused(f"usage: {argv[0]} COMMAND [ARGS]  (e.g. {argv[0]} ping -c1 ...)")
            addresses = {name: str(h.get("ip", "")).split("/")[0] for name, h in hosts.items() if h.get("ip")}
            command = [addresses.get(a, a) if i > 0 else a for i, a in enumerate(argv[1:])]
            self._run(check_host_command(command), host=argv[0])
            return
        raise Refused(f"{argv[0]}: unknown command; type `help`")

    def do_nodes(self, _arg: str) -> None:
        """nodes: hosts (with addresses) and switches of your lab."""
        for name, host in self._hosts().items():
            print(f"{name}  {host.get('ip', '')}  {host.get('mac', '')}")
        print("switches:", " ".join(self._bridges()))

    def do_net(self, _arg: str) -> None:
        """net: the links of your lab."""
        for link in self._state().get("links", []):
            print(f"{link.get('a')}:{link.get('a_port')} <-> {link.get('b')}:{link.get('b_port')}")

    def do_flows(self, arg: str) -> None:
        """flows [SWITCH]: the OpenFlow rules of your switches."""
        for switch in [arg.strip()] if arg.strip() else list(self._bridges()):
            print(f"--- {switch}")
            self._run(check_ofctl(["dump-flows", switch], self._bridges(), self.workdir))

    def do_pingall(self, _arg: str) -> None:
        """pingall: every host pings every other host once."""
        hosts = self._hosts()
        for src in hosts:
            for dst, host in hosts.items():
                if dst != src and host.get("ip"):
                    self._run(["ping", "-c1", "-W1", "-q", str(host["ip"]).split("/")[0]], host=src)

    def do_files(self, _arg: str) -> None:
        """files: the files of your workspace."""
        root = self.workdir.resolve()
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                print(path.relative_to(root).as_posix())

    def do_cat(self, arg: str) -> None:
        """cat FILE: show a workspace file."""
        print(workspace_file(self.workdir, arg.strip()).read_text(errors="replace"), end="")

    def do_deploy(self, _arg: str) -> None:
        """deploy: put your workspace on the lab (as the Deploy button does)."""
        from sdnlab.labs import session

        session.reset(self.sandbox)
        print("deployed")

    def do_exit(self, _arg: str) -> bool:
        """exit: close the terminal."""
        return True

    do_EOF = do_exit


def main(argv: list[str] | None = None) -> None:
    """Run the restricted shell on the terminal this process was given."""
    parser = argparse.ArgumentParser(prog="sdnlab-terminal")
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    try:  # take the pseudo-terminal as controlling terminal, so that Ctrl-C interrupts a command
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass  # not a session leader on a terminal (run by hand): keep the one we have
    os.chdir(args.workdir)
    shell = TraineeShell(args.sandbox, Path(args.workdir))
    while True:
        try:
            shell.cmdloop()
            return
        except KeyboardInterrupt:
            print("^C")
            shell.intro = ""


if __name__ == "__main__":
    main()
