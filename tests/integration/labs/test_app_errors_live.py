"""A trainee's Ryu app that raises: ``check`` names the app's own line (issue 11 item 6).

The supervisor points the controller runner at ``<lab dir>/app-errors.jsonl``
(``SDNLAB_APP_ERRORS``); the runner's recorder (``sdnlab.controller.app_errors``) writes there.
"""

from __future__ import annotations

import shutil

import pytest

from sdnlab.labs import session
from sdnlab.labs.loader import load_lab
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network


def test_the_controller_runs_with_its_app_errors_file_set(lab_factory):
    state = lab_factory("linear", {"switches": 1}, name="rt-apperr-env")
    with open(f"/proc/{state['controller']['pid']}/environ", "rb") as f:
        environ = f.read().split(b"\0")
    expected = f"SDNLAB_APP_ERRORS={paths.lab_dir('rt-apperr-env') / 'app-errors.jsonl'}".encode()
    assert expected in environ


def test_check_names_the_line_where_the_trainees_app_raised(tmp_path, monkeypatch):
    pytest.importorskip("sdnlab.controller.app_errors", reason="the runner does not record app errors yet")
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    lab = load_lab("l2_learning")
    work = tmp_path / "work"
    shutil.copytree(lab.starter_dir, work)
    app = work / "l2_switch.py"
    lines = app.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "def packet_in(self, ev):" in line)
    lines.insert(at + 1, "        ev.no_such_field  # a trainee's mistake")
    app.write_text("\n".join(lines) + "\n")
    session.start(lab, "rt-apperr", work)
    try:
        result = session.check("rt-apperr")
        raised = [n for n in result.notes if n.startswith("your app raised AttributeError")]
        assert raised and f"l2_switch.py:{at + 2} in packet_in" in raised[0], result.notes
        titles = [t for t, _ in session.logs("rt-apperr")]
        assert any(t.startswith("controller app errors") for t in titles)
    finally:
        session.stop("rt-apperr")
        assert "rt-apperr" not in api.paths.lab_names()
