"""``sdnlab controller`` commands, run in-process."""

from typer.testing import CliRunner

from sdnlab.cli import root

runner = CliRunner()


def test_check_config_accepts_a_valid_file(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("weight: latency\nprotection: true\n")
    result = runner.invoke(root, ["controller", "check-config", str(path)])
    assert (
        result.exit_code == 0
        and "ok (mode routing, weight latency, protection on, 0 chain(s))" in result.output
    )


def test_check_config_reports_the_field(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("weight: fastest\n")
    result = runner.invoke(root, ["controller", "check-config", str(path)])
    assert result.exit_code != 0
    assert f"{path}:1: weight" in str(result.exception)


def test_run_is_listed_with_ryu_flags_in_its_help():
    result = runner.invoke(root, ["controller", "run", "--help"])
    assert result.exit_code == 0 and "--ofp-tcp-listen-port" in result.output


def check_config_subprocess(path):
    import os
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(sys.executable), "sdnlab")  # the console script
    return subprocess.run(
        [script, "controller", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def test_check_config_of_a_non_utf8_file_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "ctl_bin.yaml"
    path.write_bytes(b"mode: l2\nweight: \xff\xfehops\n")
    result = check_config_subprocess(path)
    assert result.returncode == 5 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"sdnlab: error: {path}:2: not UTF-8 text (byte 0xff); save it as UTF-8"
    ]


def test_check_config_of_a_yaml_syntax_error_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("mode: l2\nweight: [hops\nprotection: true\n")
    result = check_config_subprocess(path)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 5 and line.startswith(f"sdnlab: error: {path}:") and "invalid YAML" in line
    assert "<unicode string>" not in line
