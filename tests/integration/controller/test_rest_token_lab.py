"""A lab's controller REST answers only requests carrying the lab's token; the project's clients send it."""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request

import pytest

from sdnlab.controller import rest_client
from sdnlab.errors import LabError
from sdnlab.grader import collect

pytestmark = pytest.mark.network

LAB = "ctltok"


@pytest.fixture(scope="module")
def lab():
    from sdnlab.runtime import api

    status = api.up("linear", {"switches": 2}, name=LAB, controller="builtin")
    try:
        yield status
    finally:
        try:
            api.down(LAB)
        except LabError:
            pass


def test_the_token_is_private_to_the_labs_owner(lab):
    from sdnlab.runtime import paths

    path = paths.lab_dir(LAB) / rest_client.TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_request_without_the_token_is_refused_and_the_grader_sends_it(lab):
    url = f"http://127.0.0.1:{lab['controller']['rest_port']}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "/stats/switches", timeout=5)
    assert refused.value.code == 401
    state = collect.from_rest(url)
    assert len(state.switches) == 2 and state.rule_count > 0
    request = urllib.request.Request(
        url + "/sdnlab/quarantine",
        data=json.dumps({"ip": "abc"}).encode(),
        headers={"Content-Type": "application/json", **rest_client.auth_headers_for_url(url)},
    )
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(request, timeout=5)
    assert bad.value.code == 400
