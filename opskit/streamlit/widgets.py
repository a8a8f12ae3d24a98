"""Widgets a person fills and clicks, as the browser reports them to the server.

Many apps are not chats: a ``text_area`` and a submit button, a selectbox and a
button. A person types, picks and clicks; the browser then sends one rerun whose
widget states carry the new values under each widget's id (read from the
element, never built) in the field that widget's type uses, and a button press as
its ``trigger_value``. A form's widgets travel together with its submit button's
trigger: a value typed into a form is not sent until the form is submitted.

Two kinds of trouble are kept apart. A widget that is not on the page is
``NotOnPage``: the synthetic user could not check (the playbook names a widget
the app does not have). A widget that is there but disabled is ``Refused``: the
page told a person no, as it would tell the synthetic user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opskit.shapes import MapOf, Scalar
from opskit.streamlit.markdown import inline
from opskit.streamlit.page import Node, Page
from opskit.streamlit.session import WidgetValue, version_tuple

FILLABLE = ("text_input", "text_area", "number_input", "selectbox")
NUMBER_INT = 0  # NumberInput.DataType.INT; FLOAT is 1


# An ``ask`` entry's ``fill``: label -> the value typed or picked (numbers as text).
FILL = MapOf(Scalar("string"), min_items=1)
FILL_HELP = (
    "Widget label -> value typed (text input, text area, number input) or picked "
    "(selectbox option), sent with the question or the click."
)


def check_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An ``ask`` entry says what to send: a question, widgets, or both (not a
    question and a click: the chat input sends the question, not a button)."""
    if not {"question", "fill", "click"} & entry.keys():
        raise ValueError("needs a question, or fill and/or click")
    if "question" in entry and "click" in entry:
        raise ValueError("question and click: a question is sent by the chat input, not a button")
    return entry


def describe(fill: Sequence[tuple[str, str]], click: str | None) -> str:
    """A widget entry as the transcript names it: ``fill Question='Why?', then click 'Ask'``."""
    said = [f"{label}={value!r}" for label, value in fill]
    said += [f"click {click!r}"] if click is not None else []
    return ("fill " if fill else "") + ", then ".join(said)


class NotOnPage(Exception):
    """The page offers no such widget (or no chat input): opskit could not check."""


class Refused(Exception):
    """The widget is on the page but a person cannot use it (disabled)."""


def selectbox_value_field(streamlit_version: str) -> str:
    """The ``WidgetState`` field that carries a selectbox's choice for this server.

    Up to Streamlit 1.44 the browser sent the option's index (``int_value``);
    1.45 (``accept_new_options``, streamlit/streamlit#10788) switched to the
    option's text (``string_value``). A server reads only its own; an unknown
    version is taken as the newest.
    """
    version = version_tuple(streamlit_version)
    if version and version < (1, 45):
        return "int_value"
    return "string_value"


@dataclass(frozen=True)
class Widget:
    """A fillable widget or a button on the page."""

    kind: str
    label: str  # as a person reads it (Markdown rendered)
    node: Node

    @property
    def proto(self) -> Any:
        return getattr(self.node.element, self.kind)

    @property
    def noun(self) -> str:
        return self.kind.replace("_", " ")

    @property
    def shown(self) -> str:
        return f"{self.label!r} ({self.noun})"


def widgets(page: Page) -> list[Widget]:
    """The page's fillable widgets and buttons, in reading order."""
    found = []
    for node in page.elements():
        if node.kind in (*FILLABLE, "button"):
            found.append(Widget(node.kind, inline(getattr(node.element, node.kind).label), node))
    return found


def _find(page: Page, label: str, kinds: Sequence[str], doing: str) -> Widget:
    candidates = [w for w in widgets(page) if w.kind in kinds]
    for same in (
        lambda w: w.label == label,
        lambda w: " ".join(w.label.split()).casefold() == " ".join(label.split()).casefold(),
    ):
        matches = [w for w in candidates if same(w)]
        if matches:
            if len(matches) > 1:  # the playbook's ambiguity: could not check, as for chat inputs
                raise NotOnPage(
                    f"{len(matches)} widgets labelled {label!r} on the page to {doing} ("
                    + ", ".join(w.shown for w in matches)
                    + "): fill and click name a widget by its label, so opskit cannot "
                    "tell them apart"
                )
            return matches[0]
    listed = ", ".join(w.shown for w in widgets(page)) or "none"
    what = "button" if kinds == ("button",) else "input"
    raise NotOnPage(f"no {what} labelled {label!r} on the page to {doing} (widgets: {listed})")


def _value(widget: Widget, value: str, streamlit_version: str) -> WidgetValue:
    element = widget.proto
    if widget.kind in ("text_input", "text_area"):
        return element.id, "string_value", value
    if widget.kind == "number_input":
        try:
            number = float(value)
        except ValueError:
            raise NotOnPage(f"{value!r} is not a number for {widget.shown}") from None
        if element.data_type == NUMBER_INT:
            if not number.is_integer():
                raise NotOnPage(f"{value!r} is not a whole number for {widget.shown}")
            return element.id, "int_value", int(number)
        return element.id, "double_value", number
    options = list(element.options)
    if value not in options:
        raise NotOnPage(
            f"{widget.shown} has no option {value!r} (options: "
            + ", ".join(repr(o) for o in options)
            + ")"
        )
    field = selectbox_value_field(streamlit_version)
    return element.id, field, options.index(value) if field == "int_value" else value


def values(
    page: Page, fill: Mapping[str, str], click: str | None, streamlit_version: str
) -> list[WidgetValue]:
    """The widget states a person's typing and clicking sends, checked against the page.

    Raises ``NotOnPage`` for a widget (or option) the page does not offer, or a
    form field with no press of that form's submit button (a browser sends
    nothing then); ``Refused`` for a disabled widget.
    """
    found: list[WidgetValue] = []
    forms: dict[str, str] = {}  # form id -> a label filled in it
    for label, value in fill.items():
        widget = _find(page, label, FILLABLE, f"fill with {value!r}")
        if widget.proto.disabled:
            raise Refused(f"the {widget.noun} {widget.label!r} is disabled")
        if widget.proto.form_id:
            forms.setdefault(widget.proto.form_id, widget.label)
        found.append(_value(widget, value, streamlit_version))
    submitted = ""
    if click is not None:
        button = _find(page, click, ("button",), "click")
        if button.proto.disabled:
            raise Refused(f"the button {button.label!r} is disabled")
        submitted = button.proto.form_id if button.proto.is_form_submitter else ""
        found.append((button.proto.id, "trigger_value", True))
    for form, label in forms.items():
        if form != submitted:
            submit = [
                w.label
                for w in widgets(page)
                if w.kind == "button" and w.proto.is_form_submitter and w.proto.form_id == form
            ]
            raise NotOnPage(
                f"{label!r} is in a form: nothing is sent until it is submitted; "
                f"click its submit button ({', '.join(repr(s) for s in submit) or 'none'})"
            )
    return found
