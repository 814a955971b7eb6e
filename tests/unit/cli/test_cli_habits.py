"""The habits every ``sdnlab`` command shares: escaped text, whole values in tables, JSON output
and JSON errors with named exit codes, the current session as the implied lab, --version,
-v/-q, Japanese words, Markdown tasks, progress lines, one atomic JSON writer.

Commands run through the real entry point (``sdnlab.cli.main``) in-process, or as a process
where the terminal width or a pipe matters.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from sdnlab import render
from sdnlab.cli import main
from sdnlab.errors import ExitCode
from sdnlab.grader.report import BehaviourResult, Failure, GradeReport
from sdnlab.labs.results import CheckItem, LabResult

BLAME = "s1 table 0 priority 100 [tcp,tp_dst=80] -> drop (cookie 0x0, line 3)"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Own $SDNLAB_HOME and run folder: no real sessions or labs of other users are seen."""
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``sdnlab ARGS`` through the console-script entry point; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as stop:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.out, out.err


def piped(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    """Run ``sdnlab ARGS | cat`` as a process on an 80-column terminal setting."""
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def text_of(draw) -> str:
    out = io.StringIO()
    draw(Console(file=out, width=80, color_system=None))
    return out.getvalue()


# ------------------------------------------------------------------ people


def lab_result(detail: str = BLAME) -> LabResult:
    items = (
        CheckItem("no-web-[1]", "behaviour", "h2 cannot reach [h3]:80", 2.0, 0.0, False, 1, 0, (detail,)),
        CheckItem("reach", "behaviour", "h1 reaches h3", 1.0, 1.0, False, 1, 1),
        CheckItem("secret", "behaviour", "hidden [check]", 1.0, 0.0, True, 1, 0, ("secret [detail]",)),
    )
    return LabResult("static_flows", items, "static", 0.1, "test", ("note with [brackets]",))


def test_lab_feedback_keeps_text_in_square_brackets():
    text = text_of(lambda c: render.lab_result(c, lab_result(), "check: [lab]"))
    joined = " ".join(text.split())
    assert "[tcp,tp_dst=80]" in joined and "no-web-[1]" in joined and "[h3]:80" in joined
    assert "note with [brackets]" in joined and "check: [lab]" in joined
    assert "secret [detail]" not in joined  # hidden checks show no feedback


def test_grade_report_and_lab_result_come_from_one_renderer():
    failure = Failure("h2", "h3", "delivered but must be isolated", packet="tcp,tp_dst=80")
    report = GradeReport(
        (BehaviourResult("no-web", "isolate", "h2 never [web]", 1.0, False, 1, 0, (failure,)),)
    )
    text = " ".join(text_of(report.render_rich).split())
    assert "h2 never [web]" in text and "packet: tcp,tp_dst=80" in text and "Score: 0/1" in text


def test_markup_in_user_text_is_printed_literally_on_a_terminal():
    out = io.StringIO()
    render.lab_result(
        Console(file=out, width=120, force_terminal=True), lab_result("[bold red]x[/] [link]"), "t"
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "[bold red]x[/] [link]" in plain


def test_japanese_words_levels_skills_and_feedback():
    rows = [
        {
            "number": 1,
            "id": "static_flows",
            "title": {"en": "x", "ja": "静的フロー"},
            "level": "beginner",
            "minutes": 30,
            "skills": {"network": 3},
            "controller": "none",
        }
    ]
    text = text_of(lambda c: render.catalogue(c, rows, "ja"))
    assert "レベル" in text and "初級" in text and "ネットワーク" in text and "static_flows" in text
    feedback = text_of(
        lambda c: render.lab_result(c, lab_result("h2 -> h3: x\n  outcome: dropped (rule)"), "t", "ja")
    )
    assert "不合格" in feedback and "得点" in feedback and "結果: 破棄 (rule)" in feedback


def test_task_is_markdown_on_a_terminal_and_raw_when_piped():
    text = "# Lab 1\n\nWrite **one** rule."
    out = io.StringIO()
    render.markdown(Console(file=out, width=80, force_terminal=True), text)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "Lab 1" in shown and "# Lab 1" not in shown and "**one**" not in shown
    assert text_of(lambda c: render.markdown(c, text)).strip() == text


def test_lab_task_fills_in_the_session_name(capsys):
    code, out, _ = run(capsys, "lab", "task", "1", "--json")
    task = json.loads(out)
    assert code == 0 and task["session"] == "default" and "{{session}}" not in task["text"]


# ------------------------------------------------------------------ tables on 80 columns, piped


def test_lab_list_piped_on_80_columns_keeps_every_id_whole():
    from sdnlab.labs.loader import catalogue

    out = piped("lab", "list")
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    for lab in catalogue():
        assert re.search(rf"\b{lab.id}\b", out.stdout), lab.id


def test_dpi_classify_piped_on_80_columns_keeps_addresses_whole(tmp_path):
    from sdnlab.vnfs import pcapio
    from sdnlab.vnfs.dpi.synth import tcp_conversation

    path = tmp_path / "long.pcap"
    frames = tcp_conversation(
        "192.168.100.201", "192.168.200.202", 40000, 8081, [("c", b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")]
    )
    pcapio.write_pcap(path, [(1.0 + i, f) for i, f in enumerate(frames)])
    out = piped("dpi", "classify", str(path))
    assert out.returncode == 0, out.stderr
    assert "192.168.100.201:40000" in out.stdout and "192.168.200.202:8081" in out.stdout
    assert "…" not in out.stdout


# ------------------------------------------------------------------ machines


def test_json_errors_carry_the_message_and_the_exit_code(capsys):
    code, out, err = run(capsys, "topo", "validate", "nosuch", "--json")
    assert code == ExitCode.INVALID_INPUT == 2
    error = json.loads(out)
    assert error["code"] == 2 and "unknown topology 'nosuch'" in error["error"] and err == ""
    code, out, err = run(capsys, "topo", "validate", "nosuch")
    assert code == 2 and out == "" and err.startswith("sdnlab: error: unknown topology 'nosuch'")


def test_usage_errors_are_json_too_with_json(capsys):
    code, out, _ = run(capsys, "topo", "list", "--json", "--bogus")
    assert code == 2 and "--bogus" in json.loads(out)["error"]


def test_topo_validate_reports_json(capsys):
    code, out, _ = run(capsys, "topo", "validate", "linear", "--json")
    assert code == 0 and json.loads(out) == {
        "file": "linear",
        "valid": True,
        "hosts": 3,
        "switches": 3,
        "links": 5,
    }


@pytest.mark.parametrize(
    "args",
    [
        ["down"],
        ["status"],
        ["flows", "dump"],
        ["vnf", "stop", "fw1"],
        ["vnf", "reload", "fw1"],
        ["lab", "stop"],
        ["lab", "task"],
        ["lab", "reset"],
    ],
    ids=" ".join,
)
def test_reporting_commands_accept_json_and_fail_as_json(capsys, monkeypatch, args):
    from sdnlab.runtime import host_env

    monkeypatch.setattr(host_env, "require_lab_host", lambda: None)
    code, out, _ = run(capsys, *args, "--json")
    error = json.loads(out)
    assert code == error["code"] != 0 and error["error"]


# commands that report nothing of their own: a host's command, interactive shells, the demo
# commands that report nothing a script would parse: interactive, long-running or streaming
# (exec, cli, controller run, serve, capture), log text (lab logs), or output that is
# already a machine format (schema prints a JSON Schema)
NO_REPORT = {"exec", "cli", "controller run", "demo", "serve", "capture", "lab logs", "schema"}


def test_every_reporting_command_has_json():
    import typer

    from sdnlab.cli import root

    def walk(command, prefix=""):
        for name, sub in getattr(command, "commands", {}).items():
            path = f"{prefix}{name}"
            if getattr(sub, "commands", None):
                yield from walk(sub, path + " ")
            else:
                yield path, sub

    commands = dict(walk(typer.main.get_command(root)))
    assert {"up", "down", "topo validate", "lab start", "lab task", "vnf stop", "vnf reload"} <= set(commands)
    missing = [
        path
        for path, command in commands.items()
        if path not in NO_REPORT and not any("--json" in p.opts for p in command.params)
    ]
    assert missing == []


def test_one_json_style_for_command_output(capsys):
    code, out, _ = run(capsys, "topo", "list", "--json")
    assert code == 0 and out.startswith("[\n  {\n    ")  # indented by 2 everywhere


def test_atomic_json_writer_leaves_no_temporary_file(tmp_path):
    from sdnlab.jsonio import write_atomic

    target = tmp_path / "state.json"
    write_atomic(target, {"b": 1, "a": "日本"})
    write_atomic(target, {"c": 2})
    assert json.loads(target.read_text()) == {"c": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert target.stat().st_mode & 0o777 == 0o644
    with pytest.raises(TypeError):
        write_atomic(target, {"bad": object.__new__(type("X", (), {"__str__": None}))})
    assert json.loads(target.read_text()) == {"c": 2} and len(list(tmp_path.iterdir())) == 1


# ------------------------------------------------------------------ the implied lab


def session_file(home: Path, name: str, lab: str = "static_flows") -> None:
    folder = home / "sessions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(
        json.dumps({"name": name, "lab": lab, "workdir": str(home), "started_at": 0})
    )


@pytest.mark.parametrize(
    "args",
    [["status"], ["flows", "dump", "s1"], ["grade", "--spec", "x.yaml"], ["vnf", "status"]],
    ids=" ".join,
)
def test_commands_act_on_the_current_session_without_name(capsys, isolated, args, monkeypatch):
    session_file(isolated / "home", "alice")
    monkeypatch.chdir(isolated)
    (isolated / "x.yaml").write_text("- reach: {src: h1, dst: h2}\n")  # a valid spec: grade reads it first
    code, _, err = run(capsys, *args)
    assert code == ExitCode.LAB_STATE and "'alice'" in err, err


def test_the_default_session_wins_and_several_others_need_a_name(capsys, isolated):
    from sdnlab.labs.session import DEFAULT_NAME, current_name
    from sdnlab.runtime.api import DEFAULT_NAME as RUNTIME_DEFAULT

    assert DEFAULT_NAME == RUNTIME_DEFAULT  # one default lab name everywhere
    assert current_name() == DEFAULT_NAME  # no session at all
    session_file(isolated / "home", "alice")
    session_file(isolated / "home", "bob")
    assert current_name("carol") == "carol"
    code, _, err = run(capsys, "status")
    assert code != 0 and "several lab sessions (alice, bob)" in err and "--name" in err
    session_file(isolated / "home", DEFAULT_NAME)
    assert current_name() == DEFAULT_NAME


# ------------------------------------------------------------------ global options


def test_version_from_package_metadata(capsys):
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"sdnlab {version('sdnlab')}"


def test_verbose_and_quiet_set_the_log_level(capsys):
    import logging

    run(capsys, "-vv", "topo", "validate", "linear")
    assert logging.getLogger().level == logging.DEBUG
    run(capsys, "-q", "topo", "validate", "linear")
    assert logging.getLogger().level == logging.ERROR
    run(capsys, "topo", "validate", "linear")
    assert logging.getLogger().level == logging.WARNING


def test_help_offers_completion_and_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--install-completion" in out and "Examples" in out
    for command in (["up"], ["grade"], ["lab"], ["vnf", "run"]):
        code, out, _ = run(capsys, *command, "--help")
        assert code == 0 and "Examples" in out, command


def test_down_as_non_root_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = run(capsys, "down", "--name", "x1")
    assert code == ExitCode.ENVIRONMENT
    assert err.strip() == "sdnlab: error: sdnlab labs belong to root: run as root (sudo) to stop a lab"


# ------------------------------------------------------------------ progress


def test_progress_is_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with render.Progress("grading", out=Console(file=out, width=80)) as update:
        assert update is not None
        update("alice", 0, 2)
        update("bob", 1, 2)
        update("bob", 1, 2)  # polled again: no new line
        update("bob", 2, 2)
    assert out.getvalue().splitlines() == [
        "grading: alice (0/2 done)",
        "grading: bob (1/2 done)",
        "grading: bob (2/2 done)",
    ]
    with render.Progress("grading", enabled=False) as update:
        assert update is None
