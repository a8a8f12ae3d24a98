"""The page as the browser keeps it, rebuilt from the server's deltas.

Streamlit never sends a page: each script run sends deltas, each addressed by a
delta path (``[root container, index, index within a block, ...]``). A delta
replaces whatever was at its path; elements the new run did not send again are
stale and go when the run finishes. That is what the browser does, and what a
synthetic user must do to see what a person sees (an ``st.empty()`` placeholder
redrawn forty times while an answer streams is one element, with its last text).

A server may send a reference (``ref_hash``) instead of a message the browser
said it already holds; ``MessageCache`` keeps the cacheable messages and resolves
those references.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opskit.streamlit import proto

Path = tuple[int, ...]


class ProtocolError(Exception):
    """The server sent something a Streamlit server does not send."""


@dataclass
class Node:
    """One element or block at a delta path."""

    path: Path
    kind: str  # the element's type ("markdown", "alert", ...) or "block:<type>"
    text: str  # what a person reads in it ("" for widgets and placeholders)
    run: int  # which script run sent it last
    element: Any = None  # the proto Element, for elements
    label: str = ""  # a chat message's name ("user", "assistant"), a block's label

    @property
    def is_block(self) -> bool:
        return self.kind.startswith("block:")


@dataclass(frozen=True)
class ShownException:
    """An exception element as shown: ``type: message``."""

    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_ICON = re.compile(r":material/[a-z0-9_]+:\s?")
_EMPHASIS = re.compile(r"\*\*|__|~~|`")
_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)


def plain(markdown: str) -> str:
    """Markdown as a person reads it: no emphasis marks, backticks, link targets or
    icon codes (``**Nova Micro**`` reads ``Nova Micro``), so that a pattern is
    written as the text looks. Single ``*``/``_`` stay: they are too often literal."""
    text = _LINK.sub(r"\1", markdown)
    text = _ICON.sub("", text)
    text = _EMPHASIS.sub("", text)
    return _HEADING.sub("", text)


def element_text(element: Any) -> tuple[str, str]:
    """The element's type and the text a person reads in it."""
    kind = element.WhichOneof("type") or "other"
    if kind == "text":
        return kind, element.text.body
    if kind == "markdown":
        return kind, plain(element.markdown.body)
    if kind == "heading":
        return kind, plain(element.heading.body)
    if kind == "code":
        return kind, element.code.code_text
    if kind == "alert":
        alert = element.alert
        body = plain(alert.body)
        return kind, f"{plain(alert.title)}\n{body}" if alert.title else body
    if kind == "exception":
        return kind, str(ShownException(element.exception.type, element.exception.message))
    if kind == "button":
        return kind, element.button.label
    return kind, ""


@dataclass
class Page:
    """Elements by delta path; ``run`` counts the script runs seen."""

    nodes: dict[Path, Node] = field(default_factory=dict)
    run: int = 0
    compile_exception: ShownException | None = None

    def start_run(self) -> None:
        self.run += 1
        self.compile_exception = None

    def finish_run(self) -> None:
        """Drop what this run did not send again, as the browser does at the end of a run."""
        self.nodes = {p: n for p, n in self.nodes.items() if n.run == self.run}

    def apply(self, path: Path, delta: Any) -> Node | None:
        """Apply one delta; return the node it wrote (``None`` for a delta opskit ignores)."""
        if not path:
            raise ProtocolError("a delta without a delta path")
        kind = delta.WhichOneof("type")
        if kind == "new_element":
            element_kind, text = element_text(delta.new_element)
            self._drop_children(path)
            node = Node(path, element_kind, text, self.run, element=delta.new_element)
        elif kind == "add_block":
            block_kind = delta.add_block.WhichOneof("type") or "other"
            before = self.nodes.get(path)
            if before is None or before.kind != f"block:{block_kind}":
                self._drop_children(path)
            label = ""
            if block_kind == "chat_message":
                label = delta.add_block.chat_message.name
            elif block_kind in ("expandable", "tab", "popover"):
                label = getattr(delta.add_block, block_kind).label
            node = Node(path, f"block:{block_kind}", "", self.run, label=label)
        else:
            return None  # transient elements (toasts, spinners) are not part of the page
        self.nodes[path] = node
        return node

    def _drop_children(self, path: Path) -> None:
        depth = len(path)
        for child in [p for p in self.nodes if len(p) > depth and p[:depth] == path]:
            del self.nodes[child]

    # --- reading the page ---------------------------------------------------------
    def elements(self, under: Path = ()) -> Iterator[Node]:
        """Elements in the order a person reads them (main, sidebar, bottom)."""
        depth = len(under)
        for path in sorted(self.nodes):
            node = self.nodes[path]
            if not node.is_block and path[:depth] == under:
                yield node

    def text(self, under: Path = ()) -> str:
        return "\n".join(n.text for n in self.elements(under) if n.text)

    def exceptions(self) -> list[ShownException]:
        """Exceptions shown on the page (``st.exception`` and uncaught ones), warnings aside."""
        found = [
            ShownException(n.element.exception.type, n.element.exception.message)
            for n in self.elements()
            if n.kind == "exception" and not n.element.exception.is_warning
        ]
        if self.compile_exception is not None:
            found.insert(0, self.compile_exception)
        return found

    def errors(self) -> list[str]:
        """The text of every error alert (``st.error``)."""
        return [
            n.text
            for n in self.elements()
            if n.kind == "alert" and n.element.alert.format == proto.ALERT_ERROR
        ]

    def chat_inputs(self) -> list[Node]:
        return [n for n in self.elements() if n.kind == "chat_input"]

    def enclosing_chat_message(self, path: Path) -> Node | None:
        """The innermost chat message block that holds ``path``."""
        for depth in range(len(path) - 1, 0, -1):
            node = self.nodes.get(path[:depth])
            if node is not None and node.kind == "block:chat_message":
                return node
        return None


@dataclass
class MessageCache:
    """Cacheable messages by hash, so that a ``ref_hash`` can be resolved.

    The browser tells the server which hashes it holds on each rerun
    (``ClientState.cached_message_hashes``); the server then sends a reference
    instead of the message. opskit does the same: it saves the bytes on the wire
    and keeps the page identical to the browser's.
    """

    messages: dict[str, Any] = field(default_factory=dict)
    resolved: int = 0  # references resolved so far

    def remember(self, message: Any) -> None:
        if message.metadata.cacheable and message.hash:
            self.messages[message.hash] = message

    def hashes(self) -> list[str]:
        return sorted(self.messages)

    def resolve(self, message: Any) -> Any:
        """The message a ``ref_hash`` stands for, placed at the reference's delta path."""
        if message.WhichOneof("type") != "ref_hash":
            return message
        cached = self.messages.get(message.ref_hash)
        if cached is None:
            raise ProtocolError(f"the server referred to message {message.ref_hash} not sent")
        resolved = proto.ForwardMsg()
        resolved.CopyFrom(cached)
        resolved.metadata.CopyFrom(message.metadata)
        self.resolved += 1
        return resolved
