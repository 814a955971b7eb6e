"""Ryu "api" modules imported through the alias still pull in the apps they require."""

import subprocess
import sys
import textwrap


def test_importing_ryu_topology_api_requires_the_topology_service_for_the_importer(tmp_path):
    (tmp_path / "topoapp.py").write_text(
        textwrap.dedent("""
        from ryu.base import app_manager
        from ryu.topology.api import get_switch, get_link

        class TopoApp(app_manager.RyuApp):
            pass
    """)
    )
    probe = textwrap.dedent(f"""
        import importlib, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from sdnlab.controller import alias
        alias.install()
        import topoapp
        print(getattr(topoapp, "_REQUIRED_APP", []))
        print(getattr(importlib, "_REQUIRED_APP", []))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    app_required, importlib_required = out.stdout.splitlines()
    assert "os_ken.topology.switches" in app_required
    assert importlib_required == "[]"
