"""The ryu alias hands out os-ken's own module objects and adds Ryu's old names."""

import importlib

import ryu  # noqa: F401  (installs the alias)
from sdnlab.controller.alias import canonical_app_name


def test_ryu_modules_are_the_os_ken_module_objects():
    for name in (
        "base.app_manager",
        "controller.ofp_event",
        "controller.handler",
        "ofproto.ofproto_v1_3",
        "ofproto.ofproto_v1_3_parser",
        "lib.packet.packet",
        "lib.packet.ethernet",
        "lib.hub",
        "topology.api",
        "topology.event",
        "exception",
        "app.ofctl.api",
    ):
        assert importlib.import_module(f"ryu.{name}") is importlib.import_module(f"os_ken.{name}")


def test_ryu_names_os_ken_renamed_exist():
    from os_ken.base.app_manager import OSKenApp
    from os_ken.exception import OSKenException

    from ryu.base.app_manager import RyuApp
    from ryu.exception import RyuException

    assert RyuApp is OSKenApp and RyuException is OSKenException


def test_event_classes_are_identical_under_both_names():
    from os_ken.controller import ofp_event as os_ken_events

    from ryu.controller import ofp_event

    assert ofp_event.EventOFPPacketIn is os_ken_events.EventOFPPacketIn


def test_modules_os_ken_dropped_are_sdnlab_files():
    from ryu.app import simple_switch_13, wsgi

    assert wsgi.__file__.endswith("controller/ryu/app/wsgi.py")
    assert simple_switch_13.SimpleSwitch13.__module__ == "ryu.app.simple_switch_13"


def test_app_names_are_canonical_under_both_spellings():
    assert canonical_app_name("ryu.topology.switches") == "os_ken.topology.switches"
    assert canonical_app_name("os_ken.topology.switches") == "os_ken.topology.switches"
    assert canonical_app_name("ryu.app.ofctl_rest") == "ryu.app.ofctl_rest"  # our own file
    assert canonical_app_name("mypkg.app") == "mypkg.app"


def test_hub_event_wait_honours_its_timeout_once_hardened():
    import time

    from os_ken.lib import hub

    from sdnlab.controller import hardening

    hardening.install()
    event = hub.Event()
    started = time.monotonic()
    assert event.wait(timeout=0.2) is False
    assert 0.15 < time.monotonic() - started < 2.0
    event.set()
    assert event.wait(timeout=5) is True
