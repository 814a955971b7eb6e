"""The one YAML reader of sdnlab: every user file (topology, lab.yaml, spec, VNF and controller
config) is parsed here, once, into plain data that remembers where every value came from.

``load_yaml(text, filename, error)`` returns dicts and lists whose subclasses ``YMap`` and
``YSeq`` carry the line of themselves and of each key or item, so validators can say
``file.yaml:12: links[3].b: ...`` (``line_of(container, key)``, ``line_at(root, path)``). No
``__line__`` keys are added to the data. The reader refuses, with ``file:line``:

- a key given twice (``key 'default' given twice (first at line 3)``),
- a null or non-scalar key (``~: 1``),
- nesting deeper than ``MAX_DEPTH`` levels (``nesting too deep``; no RecursionError).

Errors are raised as the caller's error class (``error=``, default ``YamlSyntaxError``) with a
one-line message starting ``file:line:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sdnlab import textfile
from sdnlab.errors import SdnlabError

MAX_DEPTH = 64  # nesting levels of mappings and lists; real files use fewer than 10


class YMap(dict[Any, Any]):
    """A mapping that knows the (1-based) line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines = {}


class YSeq(list[Any]):
    """A sequence that knows the (1-based) line of itself and of each item."""

    line: int = 0
    item_lines: list[int]

    def __init__(self, *args: Any, line: int = 0) -> None:
        super().__init__(*args)
        self.line = line
        self.item_lines = []


@dataclass(frozen=True)
class Where:
    """A location in a source file, printed as ``file:line``."""

    filename: str
    line: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}" if self.line else self.filename


class YamlSyntaxError(SdnlabError, ValueError):
    """The text is not valid YAML (or repeats a key); ``str()`` is ``file:line: message``."""

    exit_code = 2


class _Refused(Exception):
    """Raised inside the loader for a located problem that is not a PyYAML error."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that builds YMap/YSeq with line numbers and bounds the nesting depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event: Any = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
                raise _Refused(event.start_mark.line + 1, f"nesting too deep (more than {MAX_DEPTH} levels)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    result = YMap(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = loader.construct_object(key_node, deep=True)
        if key is None:
            raise _Refused(line, "empty (null) key; give the key a name")
        if not isinstance(key, (str, int, float, bool)):
            raise _Refused(line, "a key must be a plain name or number, not a list or mapping")
        if key in result:
            raise _Refused(line, f"key {key!r} given twice (first at line {result.key_lines[key]})")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> YSeq:
    result = YSeq(
        (loader.construct_object(child, deep=True) for child in node.value), line=node.start_mark.line + 1
    )
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def load_yaml(text: str, filename: str = "<string>", error: type[Exception] = YamlSyntaxError) -> Any:
    """Parse YAML text into YMap/YSeq/scalars; problems raise ``error`` as ``file:line: message``."""
    loader = None
    try:
        loader = _LineLoader(text)
        return loader.get_single_data()
    except _Refused as exc:
        raise error(f"{Where(filename, exc.line)}: {exc.message}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise error(
            f"{Where(filename, line)}: invalid YAML: character {exc.character:#x} is not allowed"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or exc.context or "invalid YAML"
        raise error(f"{Where(filename, line)}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise error(f"{filename}: invalid YAML: {exc}") from None
    except RecursionError:  # a safety net: MAX_DEPTH keeps the composer far below the limit
        raise error(f"{filename}: invalid YAML: nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_file(
    path: str | Path, error: type[Exception] = YamlSyntaxError, what: str = "", name: str | None = None
) -> Any:
    """Read a UTF-8 YAML file and parse it (``load_yaml``); ``name`` is how messages call the file."""
    shown = str(path) if name is None else name
    return load_yaml(textfile.read_text(path, error, what, name=shown), shown, error)


def line_of(container: Any, key: Any = None) -> int:
    """Line of ``container[key]`` if known, else the container's own line, else 0."""
    if isinstance(container, YMap):
        return container.key_lines.get(key, container.line)
    if isinstance(container, YSeq) and isinstance(key, int) and 0 <= key < len(container.item_lines):
        return container.item_lines[key]
    line = getattr(container, "line", 0)
    return line if isinstance(line, int) else 0


def line_at(root: Any, path: Sequence[Any]) -> int:
    """Line of the value at ``path`` (keys and indexes from ``root``), or of its nearest known parent.

    Suits error locations such as pydantic's ``loc`` tuples: ``line_at(doc, ("rules", 2, "dport"))``.
    """
    line = line_of(root)
    node = root
    for step in path:
        if (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        ):
            line = line_of(node, step) or line
            node = node[step]
        else:
            break
    return line


def empty_map(line: int = 0) -> YMap:
    """An empty YMap at ``line`` (for an absent optional section)."""
    return YMap(line=line)
