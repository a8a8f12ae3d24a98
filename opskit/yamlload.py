"""Safe YAML loading that remembers where every value came from.

Returns plain Python data plus a map from each value's path (a tuple of keys
and indices) to its 1-based line, so that every validation and template error
can say ``file:line``. Duplicate keys are rejected (PyYAML silently keeps the
last), and alias expansion is bounded, so a "billion laughs" document fails
fast instead of eating the machine. Only what aliases add counts against that
bound: a long document written out in full (a generated playbook of 20,000
steps) costs what its text costs, and is loaded.

Whatever the loader cannot hold is an ``InputError`` naming the file: text that
is not UTF-8, control characters, nesting deeper than ``MAX_DEPTH`` (PyYAML's
composer recurses once per level and would hit Python's recursion limit), a
value that contains itself through an alias, and scalars PyYAML resolves but
cannot construct (``2023-13-45`` as a date, a 5,000-digit integer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from opskit.errors import InputError

Path = tuple[Any, ...]
# A real playbook's aliases repeat a few hundred values; a hundred thousand is far
# beyond any honest document and small enough to refuse an alias bomb in
# milliseconds. Values written out in the text do not count: they cost only
# what the text costs, which the parser has already paid.
MAX_VALUES = 100_000
# A real playbook nests about ten levels; a hundred keeps every recursive walk
# over the data (checks, templating, reports) far from the recursion limit.
MAX_DEPTH = 100
_MERGE = "tag:yaml.org,2002:merge"


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


def load_yaml(text: str | bytes, source: str) -> Located:
    """Load one YAML document; ``bytes`` are decoded as UTF-8 (a BOM is allowed)."""
    if isinstance(text, bytes):
        text = _decode(text, source)
    loader: _Loader | None = None
    try:
        loader = _Loader(text, source)
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
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise InputError(
            f"control character U+{err.character:04X} is not allowed in YAML (a binary file?)",
            source=source,
            line=line,
        ) from None
    except yaml.YAMLError as err:
        raise InputError(f"YAML error: {err}", source=source) from None
    except RecursionError:
        # Our own checks refuse deep nesting and self-containing aliases first;
        # this is the backstop for a path through PyYAML we do not guard (merges).
        raise InputError(
            f"nested too deeply to load (more than {MAX_DEPTH} levels, or a recursive alias)",
            source=source,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8 text: byte 0x{data[err.start]:02x} cannot be decoded "
            "(save the file as UTF-8)",
            source=source,
            line=data.count(b"\n", 0, err.start) + 1,
        ) from None


class _Loader(yaml.SafeLoader):
    """Counts nesting as parser events arrive, so a deep document is refused at
    its line before the recursive composer reaches Python's recursion limit."""

    def __init__(self, text: str, source: str):
        super().__init__(text)
        self.source = source
        self.depth = 0

    def get_event(self) -> yaml.Event:
        event = super().get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InputError(
                    f"nested more than {MAX_DEPTH} levels deep",
                    source=self.source,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.depth -= 1
        return event


class _Builder:
    def __init__(self, loader: _Loader, source: str):
        self.loader = loader
        self.source = source
        self.lines: dict[Path, int] = {}
        self.repeated = 0  # values built again because an alias refers to them
        self.built: set[int] = set()  # the nodes built at least once
        self.open: set[int] = set()  # the collection nodes on the path being built

    def error(self, message: str, node: yaml.Node) -> InputError:
        return InputError(message, source=self.source, line=node.start_mark.line + 1)

    def top_level_error(self, path: Path, message: str) -> InputError:
        top = path[:1]
        prefix = f"{format_path(top)}: " if top else ""
        return InputError(prefix + message, source=self.source, line=self.lines.get(top))

    def build(self, node: yaml.Node, path: Path) -> Any:
        if id(node) in self.built:
            self.repeated += 1
        else:
            self.built.add(id(node))
        # Both limits are reached only through aliases, whose anchors sit elsewhere:
        # name the top-level entry that uses them.
        if self.repeated > MAX_VALUES:
            raise self.top_level_error(path, f"aliases repeat more than {MAX_VALUES} values")
        if len(path) > MAX_DEPTH:
            raise self.top_level_error(
                path, f"nested more than {MAX_DEPTH} levels deep (through aliases)"
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.open:
            raise self.error("recursive alias: this value contains itself", node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        written = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE)
        self.loader.flatten_mapping(node)  # puts the "<<: *anchor" pairs first
        merged = len(node.value) - written
        result: dict[Any, Any] = {}
        own: set[Any] = set()  # keys written here may override merged ones, not repeat
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("mapping keys must be plain scalars", key_node)
            key = self.scalar(key_node)
            key_path = (*path, key)
            if index >= merged and key in own:
                raise self.error(
                    f"duplicate key {key!r} (first at line {self.lines[key_path]})", key_node
                )
            if index >= merged:
                own.add(key)
            self.lines[key_path] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, key_path)
        return result

    def scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as err:
            # PyYAML resolves e.g. 2023-13-45 as a date, then datetime() refuses it
            kind = node.tag.rsplit(":", 1)[-1]
            reason = str(err).split(";")[0]
            raise self.error(
                f"cannot read {_snippet(node.value)} as {kind}: {reason} (quote it if it is text)",
                node,
            ) from None


def _snippet(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def format_path(path: Path) -> str:
    """``("steps", 2, "with", "timeout")`` -> ``steps[2].with.timeout``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
