"""Loading apps the way ``ryu-manager`` does, on os-ken's ``AppManager``.

Apps are named by module (``ryu.app.simple_switch_13``, ``sdnlab.controller.apps.builtin``)
or by a ``.py`` file path. Names are canonicalised through the ``ryu`` alias so an app required
under both spellings is instantiated once, and import problems become ``AppLoadError``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType

from os_ken.base import app_manager

from sdnlab.controller import alias
from sdnlab.controller.errors import AppLoadError


def _module_name_for_file(path: str) -> str:
    base = os.path.splitext(os.path.basename(path))[0]
    return base.replace("-", "_").replace(".", "_")


def import_app_file(path: str) -> str:
    """Import the app file at ``path`` as a top-level module; returns the module name."""
    abspath = os.path.abspath(path)
    name = _module_name_for_file(abspath)
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == abspath:
        return name
    spec = importlib.util.spec_from_file_location(name, abspath)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = os.path.dirname(abspath)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # sibling imports, as ryu-manager allowed
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise AppLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except ImportError as exc:
        del sys.modules[name]
        raise AppLoadError(f"{path}: cannot import: {exc}") from exc
    return name


def resolve_app_name(name: str) -> str:
    """Turn a module name or ``.py`` path into the canonical module name to load."""
    if name.endswith(".py") or os.path.sep in name:
        if not os.path.isfile(name):
            raise AppLoadError(f"{name}: no such app file")
        return import_app_file(name)
    canonical = alias.canonical_app_name(name)
    try:
        importlib.import_module(canonical)
    except ModuleNotFoundError as exc:
        raise AppLoadError(f"{name}: no such app module ({exc})") from exc
    except SyntaxError as exc:
        raise AppLoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except ImportError as exc:
        raise AppLoadError(f"{name}: cannot import: {exc}") from exc
    return canonical


def app_classes(module: ModuleType) -> list[type]:
    """The os-ken app classes defined (not imported) in ``module``."""
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, app_manager.OSKenApp) and cls.__module__ == module.__name__
    ]


class CanonicalAppManager(app_manager.AppManager):
    """An ``AppManager`` that loads each app once whatever name (ryu/os_ken/file) asked for it."""

    def load_app(self, name):
        return super().load_app(alias.canonical_app_name(name))

    def load_apps(self, app_lists):
        names: list[str] = []
        for entry in app_lists:
            for name in entry.split(","):
                name = alias.canonical_app_name(name.strip())
                if name and name not in names:
                    names.append(name)
        pending = list(names)
        while pending:
            name = pending.pop(0)
            if name in self.applications_cls:
                continue
            super().load_apps([name])
            # dependent services were appended by os-ken under their own names; canonicalise them
            for loaded in list(self.applications_cls):
                canonical = alias.canonical_app_name(loaded)
                if canonical != loaded:
                    cls = self.applications_cls.pop(loaded)
                    self.applications_cls.setdefault(canonical, cls)
        self._drop_duplicate_classes()

    def _drop_duplicate_classes(self) -> None:
        seen: set[type] = set(self.contexts_cls.values())  # a context is instantiated as such
        for name, cls in list(self.applications_cls.items()):
            if cls in seen:
                del self.applications_cls[name]
            seen.add(cls)


def install_manager() -> CanonicalAppManager:
    """Make a ``CanonicalAppManager`` the process-wide os-ken ``AppManager`` singleton."""
    if not isinstance(app_manager.AppManager._instance, CanonicalAppManager):
        app_manager.AppManager._instance = CanonicalAppManager()
    return app_manager.AppManager._instance
