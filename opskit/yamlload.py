"""Safe YAML loading that remembers where every value came from.

Returns plain Python data plus a map from each value's path (a tuple of keys
and indices) to its 1-based line, so that every validation and template error
can say ``file:line``. Duplicate keys are rejected (PyYAML silently keeps the
last), and alias expansion is bounded, so a "billion laughs" document fails
fast instead of eating the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from opskit.errors import InputError

Path = tuple[Any, ...]
# A real playbook has a few hundred values; a hundred thousand is far beyond any
# honest document and small enough to refuse an alias bomb in milliseconds.
MAX_VALUES = 100_000


@dataclass
class Located:
    """A loaded document with the line of every value."""

    data: Any
    lines: dict[Path, int]
    source: str

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def load_yaml(text: str, source: str) -> Located:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, {}, source)
        builder = _Builder(loader, source)
        data = builder.build(node, ())
        return Located(data, builder.lines, source)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "invalid YAML"
        if "\t" in problem or "'\\t'" in problem:
            problem = "tab character: YAML indentation must use spaces"
        raise InputError(f"YAML syntax error: {problem}", source=source, line=line) from None
    except yaml.YAMLError as err:
        raise InputError(f"YAML error: {err}", source=source) from None
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: str):
        self.loader = loader
        self.source = source
        self.lines: dict[Path, int] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise InputError(
                f"document expands to more than {MAX_VALUES} values (nested aliases?)",
                source=self.source,
                line=node.start_mark.line + 1,
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merges
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise InputError(
                        "mapping keys must be plain scalars",
                        source=self.source,
                        line=key_node.start_mark.line + 1,
                    )
                if key in result:
                    raise InputError(
                        f"duplicate key {key!r} (first at line {self.lines[(*path, key)]})",
                        source=self.source,
                        line=key_node.start_mark.line + 1,
                    )
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def format_path(path: Path) -> str:
    """``("steps", 2, "with", "timeout")`` -> ``steps[2].with.timeout``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
