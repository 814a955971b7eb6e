"""The ``ryu`` import alias: ``ryu.X`` resolves to the very module object ``os_ken.X``.

os-ken checks class identity (``AppManager.load_app`` wants ``mod.__name__ == cls.__module__``,
event dispatch compares event classes), so the alias must never import a module twice under two
names. A meta-path finder placed first on ``sys.meta_path`` answers every ``ryu.X`` import:

* if the ``ryu`` package ships a real file for ``X`` (the modules os-ken dropped, such as
  ``ryu.app.wsgi`` or ``ryu.app.simple_switch_13``), the normal file-system import is used;
* otherwise ``os_ken.X`` is imported and the same object is registered as ``ryu.X``.

``canonical_app_name`` maps an app name given under either spelling onto one name, so an app
required as both ``ryu.topology.switches`` and ``os_ken.topology.switches`` loads once.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

ALIAS_ROOT = "ryu"
TARGET_ROOT = "os_ken"


def _ryu_dirs() -> list[str]:
    """Where the ``ryu`` package's own files are: its ``__path__`` once imported (a wheel puts
    it at the top level, an editable install maps it onto controller/ryu), else beside this file."""
    package = sys.modules.get(ALIAS_ROOT)
    if package is not None and getattr(package, "__path__", None):
        return list(package.__path__)
    return [os.path.join(os.path.dirname(os.path.abspath(__file__)), "ryu")]


def aliased_name(fullname: str) -> str | None:
    """The ``os_ken`` module name a ``ryu`` module name stands for, or None if not an alias name."""
    if fullname == ALIAS_ROOT:
        return None
    if not fullname.startswith(ALIAS_ROOT + "."):
        return None
    return TARGET_ROOT + fullname[len(ALIAS_ROOT) :]


def has_own_file(fullname: str) -> bool:
    """True if the ``ryu`` package ships its own module or package for ``fullname``."""
    parts = fullname.split(".")[1:]
    for folder in _ryu_dirs():
        base = os.path.join(folder, *parts)
        if os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py")):
            return True
    return False


def canonical_app_name(name: str) -> str:
    """One spelling per app module: ``ryu.X`` becomes ``os_ken.X`` when ``ryu.X`` is an alias."""
    target = aliased_name(name)
    if target is None or has_own_file(name):
        return name
    return target


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already imported ``os_ken`` module instead of creating a new one."""

    def __init__(self, target: ModuleType) -> None:
        self._target = target
        self._spec = getattr(target, "__spec__", None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._target

    def exec_module(self, module: ModuleType) -> None:
        # The import system overwrote __spec__ with the alias spec; give the module its own back.
        if self._spec is not None:
            module.__spec__ = self._spec


class RyuAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``ryu.X`` to ``os_ken.X`` unless the ``ryu`` package has its own ``X``."""

    def find_spec(self, fullname, path, target=None):
        target_name = aliased_name(fullname)
        if target_name is None or has_own_file(fullname):
            return None
        claimed = _required_apps_snapshot()
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name == target_name:
                return None  # let the import fail with the usual "No module named ryu.X"
            raise
        _hand_required_apps_to_importer(claimed)
        is_package = hasattr(module, "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module), is_package=is_package)


# os-ken's require_app(api_style=True), run while an "api" module such as os_ken.topology.api is
# first imported, records the app on the module two frames up the stack: the importer. Imported
# through this finder, those frames are importlib's and ours, so the requirement would land on
# them and the app (e.g. the topology service) would never load. These two functions move it.
_INTERMEDIARIES = ("importlib", __name__)


def _required_apps_snapshot() -> dict[str, int]:
    return {name: len(getattr(sys.modules.get(name), "_REQUIRED_APP", [])) for name in _INTERMEDIARIES}


def _hand_required_apps_to_importer(before: dict[str, int]) -> None:
    stray: list[str] = []
    for name in _INTERMEDIARIES:
        module = sys.modules.get(name)
        required = getattr(module, "_REQUIRED_APP", None)
        if required and len(required) > before[name]:
            stray += required[before[name] :]
            del required[before[name] :]
    if not stray:
        return
    frame = sys._getframe(1)
    while frame is not None:
        module_name = frame.f_globals.get("__name__", "")
        if (
            module_name not in _INTERMEDIARIES
            and not module_name.startswith("importlib")
            and not frame.f_code.co_filename.startswith("<frozen")
        ):
            importer = sys.modules.get(module_name)
            if importer is not None:
                importer._REQUIRED_APP = getattr(importer, "_REQUIRED_APP", []) + stray
            return
        frame = frame.f_back


# Names Ryu used that os-ken renamed: module -> {ryu name: os-ken name}.
RENAMED = {
    "os_ken.base.app_manager": {"RyuApp": "OSKenApp"},
    "os_ken.exception": {"RyuException": "OSKenException"},
}


def _add_ryu_names() -> None:
    for module_name, names in RENAMED.items():
        module = importlib.import_module(module_name)
        for ryu_name, os_ken_name in names.items():
            if not hasattr(module, ryu_name):
                setattr(module, ryu_name, getattr(module, os_ken_name))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` and add Ryu's old names (idempotent)."""
    if not any(isinstance(finder, RyuAliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, RyuAliasFinder())
    _add_ryu_names()
