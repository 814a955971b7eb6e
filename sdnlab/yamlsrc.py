"""YAML loading that remembers where every value came from (shared by every YAML input of sdnlab).

``load_yaml(text, filename)`` returns plain dicts and lists whose subclasses ``YMap`` and ``YSeq``
carry the line of each key or item, so validators can say ``file.yaml:12: links[3].b: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


class YMap(dict):
    """A mapping that knows the (1-based) line of itself and of each key."""

    line: int = 0
    key_lines: dict


class YSeq(list):
    """A sequence that knows the (1-based) line of itself and of each item."""

    line: int = 0
    item_lines: list


@dataclass(frozen=True)
class Where:
    """A location in a source file, printed as ``file:line``."""

    filename: str
    line: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}" if self.line else self.filename


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that builds YMap/YSeq with line numbers."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    result = YMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain scalars", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> YSeq:
    result = YSeq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``str()`` is ``file:line: message``."""


def load_yaml(text: str, filename: str = "<string>"):
    """Parse YAML text into YMap/YSeq/scalars; raises YamlSyntaxError naming file and line."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(f"{Where(filename, line)}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{filename}: invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlSyntaxError(f"{filename}: invalid YAML: nesting too deep") from None


def line_of(container, key) -> int:
    """Line of ``container[key]`` if known, else the container's own line, else 0."""
    if isinstance(container, YMap):
        return container.key_lines.get(key, container.line)
    if isinstance(container, YSeq) and isinstance(key, int) and 0 <= key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", 0)
