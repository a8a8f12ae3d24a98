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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opskit.streamlit import proto
from opskit.streamlit.reading import block_label, element_text, typed_widget

Path = tuple[int, ...]


class ProtocolError(Exception):
    """The server sent something a Streamlit server does not send."""


@dataclass
class Node:
    """One element or block at a delta path."""

    path: Path
    kind: str  # the element's type ("markdown", "alert", ...) or "block:<type>"
    text: str  # what a person reads in it ("" for charts and placeholders)
    run: int  # which script run sent it last
    element: Any = None  # the proto Element, or the proto Block for blocks
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


@dataclass
class Page:
    """Elements by delta path; ``run`` counts the script runs seen."""

    nodes: dict[Path, Node] = field(default_factory=dict)
    run: int = 0
    compile_exception: ShownException | None = None
    sidebar_collapsed: bool = False  # st.set_page_config(initial_sidebar_state="collapsed")
    sent: dict[str, Any] = field(default_factory=dict)  # widget id -> value typed or picked

    def configure(self, page_config: Any) -> None:
        """Read ``st.set_page_config``: a sidebar set to start collapsed hides its text.

        ``"auto"`` is taken as open: the browser collapses it only on a narrow
        (mobile) screen, and a release gate reads the page as a desktop visitor."""
        if page_config.HasField("initial_sidebar_state"):
            self.sidebar_collapsed = page_config.initial_sidebar_state == proto.SIDEBAR_COLLAPSED

    def start_run(self) -> None:
        self.run += 1
        self.compile_exception = None

    def finish_run(self) -> None:
        """Drop what this run did not send again, as the browser does at the end of a
        run, and forget the values of widgets no longer on the page (so does its
        widget manager: a widget drawn again later starts from its default)."""
        self.nodes = {p: n for p, n in self.nodes.items() if n.run == self.run}
        shown = {typed[0] for n in self.nodes.values() if (typed := self._typed(n)) is not None}
        self.sent = {key: value for key, value in self.sent.items() if key in shown}

    def remember_sent(self, values: Iterable[tuple[str, Any]]) -> None:
        """What the synthetic user typed or picked (widget id, value): the page shows it
        in that widget from now on, as the browser does, until the script sets another."""
        self.sent.update(values)

    @staticmethod
    def _typed(node: Node) -> tuple[str, bool] | None:
        if node.is_block or node.element is None:
            return None
        return typed_widget(node.element)

    def apply(self, path: Path, delta: Any) -> Node | None:
        """Apply one delta; return the node it wrote (``None`` for a delta opskit ignores)."""
        if not path:
            raise ProtocolError("a delta without a delta path")
        kind = delta.WhichOneof("type")
        if kind == "new_element":
            typed = typed_widget(delta.new_element)
            if typed is not None and typed[1]:  # the script set the value: it shows that
                self.sent.pop(typed[0], None)
            element_kind, text = element_text(delta.new_element, self.sent)
            self._drop_children(path)
            node = Node(path, element_kind, text, self.run, element=delta.new_element)
        elif kind == "add_block":
            block_kind = delta.add_block.WhichOneof("type") or "other"
            before = self.nodes.get(path)
            if before is None or before.kind != f"block:{block_kind}":
                self._drop_children(path)
            node = Node(
                path,
                f"block:{block_kind}",
                "",
                self.run,
                element=delta.add_block,
                label=block_label(delta.add_block),
            )
        else:
            return None  # a delta opskit does not read (rows added to a chart or table)
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

    def text(self, under: Path = (), *, hidden: bool = False) -> str:
        """What a person reads under ``under``: element texts and the labels of the
        blocks inside it, in page order. Text in a container a person must open
        first (``hidden``) is apart: ``hidden=True`` reads only that."""
        depth = len(under)
        return "\n".join(
            node.label if node.is_block else node.text
            for path, node in sorted(self.nodes.items())
            if path[:depth] == under
            and (node.label if node.is_block else node.text)
            and not (node.is_block and len(path) == depth)
            and self.is_hidden(path) == hidden
        )

    def hidden_text(self) -> str:
        """Text in collapsed expanders and statuses, closed popovers and dialogs,
        inactive tabs and a sidebar set to start collapsed: on the page, not seen."""
        return self.text(hidden=True)

    def is_hidden(self, path: Path) -> bool:
        """Whether a person must open something first to see what is at ``path``."""
        if path[0] == proto.SIDEBAR and self.sidebar_collapsed:
            return True
        for depth in range(1, len(path)):
            holder = self.nodes.get(path[:depth])
            if holder is not None and holder.is_block and not self._shows_children(holder):
                return True
        return False

    def _shows_children(self, block: Node) -> bool:
        kind = block.kind.removeprefix("block:")
        if kind == "expandable":
            return bool(block.element.expandable.expanded)
        if kind == "popover":
            return bool(block.element.popover.open)
        if kind == "dialog":
            return bool(block.element.dialog.is_open)
        if kind == "tab":
            tabs = self.nodes.get(block.path[:-1])
            active = 0
            if tabs is not None and tabs.kind == "block:tab_container":
                active = tabs.element.tab_container.default_tab_index
            return block.path[-1] == active
        return True

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
