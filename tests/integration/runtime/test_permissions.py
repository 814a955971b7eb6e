"""Lab state is its owner's (issue 12 item 14) and non-root commands fail in one line (item 12).

Files under the run directory were mode 644 and included what a lab runs with; ``sdnlab down``
as non-root printed a PermissionError traceback. A forked child that drops to ``nobody`` runs
the real CLI entry point in-process (the interpreter lives under /root, which nobody may exec).
"""

from __future__ import annotations

import io
import os
import stat
import sys
from contextlib import redirect_stderr

import pytest
from typer.testing import CliRunner

from sdnlab.runtime import paths

pytestmark = pytest.mark.network

NOBODY = 65534


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """Run ``sdnlab ARGV`` as user nobody in a forked child; (exit code, stderr)."""
    import traceback

    from sdnlab import cli  # imported as root: nobody cannot read the interpreter's library under /root
    from sdnlab.runtime import render  # noqa: F401 (imported lazily by `status`)

    for words in (["down", "--help"], ["status", "--help"]):  # warm the CLI's lazy imports
        CliRunner().invoke(cli.root, words)

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run the CLI, report through the pipe
        code = 99
        err = io.StringIO()
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sys.argv = ["sdnlab", *argv]
            with redirect_stderr(err):
                try:
                    cli.main()
                    code = 0
                except SystemExit as exit_:
                    code = int(exit_.code or 0)
                except BaseException:
                    err.write(traceback.format_exc())
                    code = 98
        except BaseException:
            err.write(traceback.format_exc())
        finally:
            os.write(write, f"{code}\n{err.getvalue()}".encode())
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    code, _, text = b"".join(chunks).decode().partition("\n")
    return int(code), text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_lab_state_is_readable_by_its_owner_only(lab_factory):
    lab_factory("linear", {"switches": 1}, name="rt-perm")
    lab = paths.lab_dir("rt-perm")
    assert _mode(paths.run_dir()) == 0o700
    assert _mode(lab) == 0o700
    for name in ("spec.json", "state.json", "supervisor.log", "controller.log", "topology.json"):
        assert _mode(lab / name) == 0o600, name


def test_non_root_commands_fail_in_one_line_without_a_traceback(lab_factory):
    lab_factory("linear", {"switches": 1}, name="rt-perm2")
    for argv in (["down", "--name", "rt-perm2"], ["status", "--name", "rt-perm2"]):
        code, err = _as_nobody(argv)
        assert code == 3, (argv, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "root" in err
    assert paths.lab_dir("rt-perm2").exists()  # still running
