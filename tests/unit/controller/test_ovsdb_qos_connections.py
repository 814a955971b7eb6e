"""A failed OVSDB transaction closes its connection (``sdnlab.controller.ovsdb_qos``).

os-ken's VSCtl closes its IDL only when a transaction completes; a call that fails inside it
(a bug in the body, a dropped server) must not leave a connection open in the controller, one
per failed REST call. A private ovsdb-server on a unix socket (no switch needed).
"""

import gc
import os
import shutil
import subprocess
import time

import pytest

from sdnlab.controller.ovsdb_qos import OvsdbError, OvsdbQos

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
pytestmark = pytest.mark.skipif(
    not (shutil.which("ovsdb-server") and os.path.exists(SCHEMA)), reason="needs ovsdb-server"
)


@pytest.fixture
def ovsdb(tmp_path):
    db, sock = tmp_path / "conf.db", tmp_path / "db.sock"
    subprocess.run(["ovsdb-tool", "create", str(db), SCHEMA], check=True)
    server = subprocess.Popen(
        ["ovsdb-server", f"--remote=punix:{sock}", "--unixctl", str(tmp_path / "ctl"), str(db)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    subprocess.run(["ovs-vsctl", f"--db=unix:{sock}", "--no-wait", "init"], check=True, timeout=10)
    yield f"unix:{sock}"
    server.kill()
    server.wait()


def _sockets() -> int:
    """Open sockets of this process (call after gc.collect() for a baseline)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return count


def test_a_transaction_that_fails_inside_closes_its_connection(ovsdb):
    qos = OvsdbQos(ovsdb)

    def broken(_idl, _txn):
        raise RuntimeError("a bug in the body")

    gc.collect()
    before = _sockets()
    for _ in range(3):
        with pytest.raises(OvsdbError, match="a bug in the body"):
            qos._run(broken, wait_for_reload=False)
    assert _sockets() <= before


def test_a_refused_change_is_a_clear_error_and_closes_its_connection(ovsdb):
    gc.collect()
    before = _sockets()
    with pytest.raises(OvsdbError, match="bridge br-none: not in the database"):
        OvsdbQos(ovsdb).read("br-none", 1)
    assert _sockets() <= before
