"""``sdnlab controller`` commands, run in-process."""

from typer.testing import CliRunner

from sdnlab.cli import root

runner = CliRunner()


def test_check_config_accepts_a_valid_file(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("weight: latency\nprotection: true\n")
    result = runner.invoke(root, ["controller", "check-config", str(path)])
    assert result.exit_code == 0 and "ok (mode routing, weight latency, protection on, 0 chain(s))" in result.output


def test_check_config_reports_the_field(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("weight: fastest\n")
    result = runner.invoke(root, ["controller", "check-config", str(path)])
    assert result.exit_code != 0
    assert f"{path}:1: weight" in str(result.exception)


def test_run_is_listed_with_ryu_flags_in_its_help():
    result = runner.invoke(root, ["controller", "run", "--help"])
    assert result.exit_code == 0 and "--ofp-tcp-listen-port" in result.output
