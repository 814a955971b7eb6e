"""Find a VNF class: a built-in kind (``firewall``, ``lb``, ``dpi``, ``passthrough``) or a
researcher's Python file that defines one ``VNF`` subclass (or names it in ``VNF_CLASS``)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from sdnlab.vnfs.errors import VnfLoadError
from sdnlab.vnfs.framework.base import VNF

BUILTIN = {
    "passthrough": "sdnlab.vnfs.framework.base:VNF",
    "firewall": "sdnlab.vnfs.firewall.vnf:Firewall",
    "lb": "sdnlab.vnfs.lb.vnf:LoadBalancer",
    "dpi": "sdnlab.vnfs.dpi_vnf.vnf:DpiVnf",
}


def load_vnf_class(kind: str) -> type[VNF]:
    """The VNF class for a built-in kind or a path to a .py file."""
    if kind in BUILTIN:
        module_name, _, class_name = BUILTIN[kind].partition(":")
        return getattr(importlib.import_module(module_name), class_name)
    path = Path(kind)
    if path.suffix != ".py":
        raise VnfLoadError(f"unknown VNF kind {kind!r} (built-in: {', '.join(BUILTIN)}; or a path to a .py file)")
    if not path.is_file():
        raise VnfLoadError(f"{path}: no such VNF file")
    module_name = f"sdnlab_user_vnf_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise VnfLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - report the researcher's import error in one line
        raise VnfLoadError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    named = getattr(module, "VNF_CLASS", None)
    if named is not None:
        if not (inspect.isclass(named) and issubclass(named, VNF)):
            raise VnfLoadError(f"{path}: VNF_CLASS must be a subclass of sdnlab.vnfs.framework.VNF")
        return named
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, VNF) and obj.__module__ == module_name]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(c.__name__ for c in found)})"
        raise VnfLoadError(f"{path}: expected one subclass of VNF, found {what}; set VNF_CLASS to choose")
    return found[0]
