"""The per-lab REST token: private to the lab's owner, stable across controller restarts, found by URL."""

import json
import stat

from sdnlab.controller import rest_client


def _lab(run_dir, name: str, rest_port: int):
    lab = run_dir / name
    lab.mkdir()
    (lab / "spec.json").write_text(json.dumps({"controller": {"mode": "builtin", "rest_port": rest_port}}))
    return lab


def test_the_token_file_is_readable_only_by_its_owner_and_kept_on_a_restart(tmp_path):
    path = rest_client.create_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = rest_client.read_token(tmp_path)
    assert token and len(token) >= 32
    assert rest_client.create_token(tmp_path) == path and rest_client.read_token(tmp_path) == token


def test_a_token_file_others_could_read_is_replaced(tmp_path):
    path = rest_client.create_token(tmp_path)
    old = rest_client.read_token(tmp_path)
    path.chmod(0o644)
    rest_client.create_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and rest_client.read_token(tmp_path) != old


def test_clients_find_the_token_of_the_lab_a_url_points_at(tmp_path, monkeypatch):
    monkeypatch.delenv(rest_client.TOKEN_ENV, raising=False)
    one, two = _lab(tmp_path, "one", 8081), _lab(tmp_path, "two", 8082)
    rest_client.create_token(one)
    rest_client.create_token(two)
    headers = rest_client.auth_headers_for_url("http://127.0.0.1:8082/stats/switches", tmp_path)
    assert headers == {"Authorization": f"Bearer {rest_client.read_token(two)}"}
    assert rest_client.auth_headers_for_url("http://127.0.0.1:9999", tmp_path) == {}
    assert rest_client.auth_headers_for_url("not a url", tmp_path) == {}


def test_a_lab_without_a_token_gives_no_header(tmp_path, monkeypatch):
    monkeypatch.delenv(rest_client.TOKEN_ENV, raising=False)
    assert rest_client.auth_headers(tmp_path) == {}


def test_the_environment_overrides_the_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv(rest_client.TOKEN_ENV, "from-env")
    assert rest_client.auth_headers_for_url("http://127.0.0.1:1", tmp_path) == {
        "Authorization": "Bearer from-env"
    }
