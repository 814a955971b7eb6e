"""A wrong command-line argument of a lab command is invalid input (exit 2), not a lab state (4)."""

import re

import pytest

from sdnlab.errors import ExitCode, LabError
from sdnlab.runtime import api, paths


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (api.parse_controller, "bogus", "--controller 'bogus': expected builtin, none"),
        (api.parse_controller, "remote:1.2.3", "--controller 'remote:1.2.3': expected remote:HOST:PORT"),
        (api.parse_controller, "app:nosuch_file.py", "--controller 'app:nosuch_file.py': no such app file"),
        (api.parse_protocols, "OpenFlow99", "--protocols 'OpenFlow99': expected a comma-separated list"),
        (paths.check_name, "qa x/../y", "lab name 'qa x/../y': use 1-24 lowercase letters"),
    ],
)
def test_a_wrong_argument_names_the_option_and_exits_as_invalid_input(tmp_path, parse, text, message):
    with pytest.raises(LabError, match="^" + re.escape(message)) as raised:
        parse(text)
    assert raised.value.exit_code == ExitCode.INVALID_INPUT == 2


def test_a_certificate_that_does_not_verify_has_its_own_documented_exit_code():
    from pathlib import Path

    from sdnlab.certification.errors import VerificationFailed

    assert VerificationFailed.exit_code == ExitCode.VERIFICATION_FAILED == 6
    cli_doc = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    assert "| 6 | `VERIFICATION_FAILED` |" in cli_doc
