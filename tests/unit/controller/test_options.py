"""Ryu's flags parse in any order with the app names; the defaults bind to 127.0.0.1."""

from sdnlab.controller import options


def test_apps_may_come_before_between_and_after_flags():
    conf = options.register()
    flags, apps = options.split_argv(
        conf,
        [
            "a.py",
            "--verbose",
            "--ofp-tcp-listen-port",
            "6700",
            "b",
            "--observe-links",
            "--wsapi-port=8100",
            "c",
        ],
    )
    assert apps == ["a.py", "b", "c"]
    assert flags == ["--verbose", "--ofp-tcp-listen-port", "6700", "--observe-links", "--wsapi-port=8100"]


def test_defaults_listen_on_localhost():
    conf = options.parse(["x.py"])
    assert (conf.ofp_listen_host, conf.ofp_tcp_listen_port) == ("127.0.0.1", 6653)
    assert (conf.wsapi_host, conf.wsapi_port) == ("127.0.0.1", 8080)
    assert conf.observe_links is False and conf.app == ["x.py"]


def test_flags_override_defaults():
    conf = options.parse(
        [
            "--ofp-listen-host",
            "0.0.0.0",
            "--ofp-tcp-listen-port",
            "6799",
            "--observe-links",
            "--wsapi-port",
            "8199",
            "app",
        ]
    )
    assert (conf.ofp_listen_host, conf.ofp_tcp_listen_port, conf.wsapi_port) == ("0.0.0.0", 6799, 8199)
    assert conf.observe_links is True
