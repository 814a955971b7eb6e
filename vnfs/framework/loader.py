"""Find a VNF class: a built-in kind (the registry in ``sdnlab.vnfs.kinds``) or a
researcher's Python file that defines one ``VNF`` subclass (or names it in ``VNF_CLASS``).

``build_vnf`` instantiates a class with a config: the VNF's own ``parse_config`` /
``apply_config`` may raise anything, which becomes a one-line ``VnfCodeError`` naming the
line of the VNF's code instead of a traceback."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from sdnlab.errors import SdnlabError
from sdnlab.vnfs.errors import VnfCodeError, VnfLoadError
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.faults import ProcessExitCalled, describe, display_path, guarded_exits, source_file
from sdnlab.vnfs.kinds import BUILTIN  # the registry of kinds, re-exported here

#: module names given to researchers' files (how a class is known to come from one)
USER_MODULE_PREFIX = "sdnlab_user_vnf_"


def load_vnf_class(kind: str) -> type[VNF]:
    """The VNF class for a built-in kind or a path to a .py file."""
    if kind in BUILTIN:
        module_name, _, class_name = BUILTIN[kind].partition(":")
        return getattr(importlib.import_module(module_name), class_name)
    path = Path(kind)
    if path.suffix != ".py":
        raise VnfLoadError(
            f"unknown VNF kind {kind!r} (built-in: {', '.join(BUILTIN)}; or a path to a .py file)"
        )
    if path.is_dir():
        raise VnfLoadError(f"{path}: is a directory, not a VNF .py file")
    if not path.is_file():
        raise VnfLoadError(f"{path}: no such VNF file")
    module_name = f"{USER_MODULE_PREFIX}{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise VnfLoadError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        # compiled from the source each time, never from a cached .pyc: a file edited within the
        # same second and to the same size (then reloaded by a chain) must run its new code
        with guarded_exits():
            exec(compile(path.read_bytes(), str(path), "exec", dont_inherit=True), module.__dict__)
    except SyntaxError as exc:
        raise VnfLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (Exception, SystemExit, ProcessExitCalled) as exc:
        subject = "" if isinstance(exc, Exception) else "it "  # "it called sys.exit(3) ..."
        raise VnfLoadError(f"{path}: importing it failed: {subject}{describe(exc, str(path))}") from None
    named = getattr(module, "VNF_CLASS", None)
    if named is not None:
        if not (inspect.isclass(named) and issubclass(named, VNF)):
            raise VnfLoadError(f"{path}: VNF_CLASS must be a subclass of sdnlab.vnfs.framework.VNF")
        return named
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, VNF) and obj.__module__ == module_name
    ]
    if len(found) != 1:
        raise VnfLoadError(f"{path}: {_no_single_class(module, module_name, found)}")
    return found[0]


def _no_single_class(module: Any, module_name: str, found: list[type]) -> str:
    """Why a module does not name one VNF class: what it defines instead."""
    if found:
        names = ", ".join(c.__name__ for c in found)
        return (
            f"expected one subclass of VNF, found {len(found)} ({names}); "
            f"set VNF_CLASS = {found[0].__name__} (say) to choose"
        )
    classes = [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module_name]
    imported = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, VNF) and obj.__module__ != module_name
    ]
    if len(classes) == 1:
        what = f"it defines one class, {classes[0].__name__}, which is not a subclass of VNF"
    elif classes:
        names = ", ".join(c.__name__ for c in classes)
        what = f"it defines {len(classes)} classes ({names}), none a subclass of VNF"
    else:
        what = "it defines no classes"
    hint = "; subclass sdnlab.vnfs.framework.VNF (from sdnlab.vnfs.framework import VNF)"
    if imported:
        names = ", ".join(c.__name__ for c in imported)
        hint = f"; it imports {names}: set VNF_CLASS = {imported[0].__name__} to run an imported one"
    return f"expected one subclass of VNF, found none: {what}{hint}"


def build_vnf(cls: type[VNF], config: Any = None, **kwargs: Any) -> VNF:
    """``cls(config, **kwargs)``, with an exception from the VNF's own code as a VnfCodeError."""
    try:
        with guarded_exits():
            return cls(config, **kwargs)
    except SdnlabError:
        raise
    except (Exception, SystemExit, ProcessExitCalled) as exc:
        raise _setup_failed(cls, exc) from None


def validate_settings(vnf: VNF, config: Any, source: str) -> Any:
    """``vnf.validate(config, source)`` for a running VNF, with its own code's exceptions as
    ``build_vnf`` reports them."""
    try:
        return vnf.validate(config, source)
    except SdnlabError:
        raise
    except Exception as exc:
        raise _setup_failed(type(vnf), exc) from None


def _setup_failed(cls: type, exc: BaseException) -> VnfCodeError:
    return VnfCodeError(
        f"{vnf_label(cls)}: setting it up with its config failed: {describe(exc, source_file(cls))}"
    )


def check_vnf(cls: type[VNF], config: Any = None, **kwargs: Any) -> None:
    """Build the VNF with ``config`` and close it again: validation before anything starts."""
    close_vnf(build_vnf(cls, config, **kwargs))


def close_vnf(vnf: VNF) -> None:
    """``vnf.close()``, with an exception from the VNF's own code as a VnfCodeError."""
    try:
        vnf.close()
    except SdnlabError:
        raise
    except Exception as exc:
        raise VnfCodeError(
            f"{vnf_label(type(vnf))}: close() raised {describe(exc, source_file(type(vnf)))}"
        ) from None


def vnf_label(cls: type) -> str:
    """How messages name a VNF class: its .py file for a researcher's VNF, else its kind."""
    path = source_file(cls)
    if path and cls.__module__.startswith(USER_MODULE_PREFIX):
        return display_path(path)
    return f"VNF {getattr(cls, 'kind', cls.__name__)!r}"
