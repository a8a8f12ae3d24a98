"""What a person reads in each Streamlit element, as the browser draws it.

A pattern in ``expect_page`` or ``expect`` is written as the page looks, so each
element is read as shown: a metric as its label, value and delta, a widget as
its label and current value, Markdown as rendered (``opskit.streamlit.markdown``),
code verbatim. An element that shows no text (a chart, an image without caption,
an empty placeholder) reads ``""``; a table reads as its cells, one row a line,
tab-separated, or ``TABLE_NOT_READ`` when its Arrow payload holds what
``opskit.streamlit.arrow`` does not read, so that the page says a table is there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.message import DecodeError

from opskit.streamlit import proto
from opskit.streamlit.arrow import read_table
from opskit.streamlit.markdown import html_text, inline, rendered

TABLE_NOT_READ = "(table not read)"


def element_text(element: Any, sent: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The element's type and the text a person reads in it.

    ``sent`` holds what the synthetic user typed or picked, by widget id: the
    browser shows a widget with the value its user gave it, not the default the
    server sends again on each run, until the script sets another one."""
    kind = element.WhichOneof("type") or "other"
    reader = _READERS.get(kind)
    if reader is None:
        return kind, ""
    widget = getattr(element, kind)
    typed = _TYPED.get(kind)
    if typed is not None and sent and widget.id in sent and not widget.set_value:
        return kind, typed(widget, sent[widget.id])
    return kind, reader(widget)


def typed_widget(element: Any) -> tuple[str, bool] | None:
    """A widget the synthetic user can type into or pick in: its id, and whether
    the script set its value in this run (which then replaces what was typed)."""
    kind = element.WhichOneof("type")
    if kind not in _TYPED:
        return None
    widget = getattr(element, kind)
    return widget.id, bool(widget.set_value)


def block_label(block: Any) -> str:
    """The text a block shows of itself: an expander's, tab's, popover's or status's
    label, a dialog's title, a chat message's name."""
    kind = block.WhichOneof("type")
    if kind in ("expandable", "tab", "popover"):
        return inline(getattr(block, kind).label)
    if kind == "dialog":
        return inline(block.dialog.title)
    if kind == "chat_message":
        return block.chat_message.name
    return ""


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def _markdown(markdown: Any) -> str:
    if markdown.element_type == proto.MARKDOWN_DIVIDER:
        return ""
    if markdown.element_type == proto.MARKDOWN_LATEX:  # st.latex sends "$$\n...\n$$"
        return markdown.body.strip().removeprefix("$$").removesuffix("$$").strip()
    return rendered(markdown.body)


def _alert(alert: Any) -> str:
    return _lines(rendered(alert.title), rendered(alert.body))


def _exception(exception: Any) -> str:
    return f"{exception.type}: {exception.message}" if exception.message else exception.type


def _number(value: float, printf: str = "") -> str:
    if printf:
        try:
            return printf % value
        except (TypeError, ValueError):
            pass  # a format Python's % does not know (sprintf.js has more): plain number
    return str(int(value)) if value == int(value) else repr(value)


def _widget(label: str, *values: str) -> str:
    return _lines(inline(label), *values)


def _current(widget: Any, default: Any) -> Any:
    """The widget's value as the page shows it: the one the script set, else its default."""
    return widget.value if widget.set_value else default


def _text_input(widget: Any, value: str | None = None) -> str:
    if value is None:
        value = _current(widget, widget.default)
    if widget.type == proto.TEXT_INPUT_PASSWORD:
        value = "•" * len(value)  # a person sees dots, never the password
    return _widget(widget.label, value)


def _number_input(widget: Any) -> str:
    if widget.set_value:
        return _widget(widget.label, _number(widget.value, widget.format))
    if widget.HasField("default"):
        return _widget(widget.label, _number(widget.default, widget.format))
    return _widget(widget.label)  # value=None: an empty box


def _typed_selectbox(widget: Any, value: str | int) -> str:
    """A selectbox's option as sent: its text (1.45+) or its index (up to 1.44)."""
    if isinstance(value, int) and 0 <= value < len(widget.options):
        value = widget.options[value]
    return _widget(widget.label, inline(str(value)))


def _checkbox(widget: Any) -> str:
    ticked = _current(widget, widget.default)
    return f"[{'x' if ticked else ' '}] {inline(widget.label)}"


def _choice(widget: Any) -> str:
    """A radio or selectbox: the option the script set (``raw_value``), else the
    default (``default`` is its index)."""
    if widget.set_value and widget.HasField("raw_value"):
        return _widget(widget.label, inline(widget.raw_value))
    options = list(widget.options)
    chosen = ""
    if widget.HasField("default") and 0 <= widget.default < len(options):
        chosen = inline(options[widget.default])
    return _widget(widget.label, chosen)


def _multiselect(widget: Any) -> str:
    if widget.set_value:
        chosen = [inline(value) for value in widget.raw_values]
    else:
        options = list(widget.options)
        chosen = [inline(options[i]) for i in widget.default if 0 <= i < len(options)]
    return _widget(widget.label, ", ".join(chosen))


def _slider(widget: Any) -> str:
    values: Sequence[float] = widget.value if widget.set_value else widget.default
    if widget.options:  # select_slider: the values are indexes into the options
        shown = [widget.options[int(v)] for v in values if 0 <= int(v) < len(widget.options)]
    else:
        shown = [_number(v, widget.format) for v in values]
    return _widget(widget.label, " – ".join(shown))


def _dates(widget: Any) -> str:
    """A date (or date and time) input: its dates as its ``format`` shows them."""
    shown = [_date(value, widget.format) for value in _current(widget, widget.default)]
    return _widget(widget.label, " – ".join(shown))


def _date(value: str, form: str) -> str:
    """``2026-01-02`` or ``2026-01-02T09:30`` as the box shows it (``YYYY/MM/DD``,
    ``DD.MM.YYYY``, ...: the formats Streamlit offers); as sent for another format."""
    day, _, time = value.partition("T")
    parts = day.split("-")
    if len(parts) == 3 and form:
        year, month, date = parts
        shown = form.replace("YYYY", year).replace("MM", month).replace("DD", date)
        day = shown if shown != form else day
    return f"{day} {time}".strip()


def _string_widget(widget: Any) -> str:
    return _widget(widget.label, _current(widget, widget.default))


def _labelled(widget: Any) -> str:
    return inline(widget.label)


def _metric(metric: Any) -> str:
    return _lines(inline(metric.label), metric.body, metric.delta)


def _table(table: Any) -> str:
    data = table.data
    if data and not data.startswith(b"\xff\xff\xff\xff"):  # newer: an ArrowData message
        try:
            data = proto.ArrowData.FromString(data).data
        except DecodeError:
            return TABLE_NOT_READ
    cells = read_table(data)
    if cells is None:
        return TABLE_NOT_READ
    return "\n".join("\t".join(row) for row in cells)


def _images(images: Any) -> str:
    return _lines(*(inline(image.caption) for image in images.imgs))  # captions only


def _button_group(group: Any) -> str:
    return _lines(inline(group.label), *(inline(option.content) for option in group.options))


_READERS: dict[str, Callable[[Any], str]] = {
    "text": lambda text: text.body,
    "markdown": _markdown,
    "heading": lambda heading: rendered(heading.body),
    "code": lambda code: code.code_text,
    "alert": _alert,
    "exception": _exception,
    "json": lambda json: json.body,
    "html": lambda html: html_text(html.body),
    "metric": _metric,
    "progress": lambda progress: rendered(progress.text),
    "spinner": lambda spinner: rendered(spinner.body),
    "toast": lambda toast: rendered(toast.body),
    "imgs": _images,
    "table": _table,
    "dataframe": _table,
    "button": lambda button: inline(button.label),
    "download_button": _labelled,
    "link_button": _labelled,
    "page_link": _labelled,
    "file_uploader": _labelled,
    "camera_input": _labelled,
    "audio_input": _labelled,
    "menu_button": _labelled,
    "chat_input": lambda chat: chat.placeholder,  # what the empty box shows
    "button_group": _button_group,
    "text_input": _text_input,
    "text_area": _string_widget,
    "time_input": _string_widget,
    "color_picker": _string_widget,
    "number_input": _number_input,
    "checkbox": _checkbox,
    "radio": _choice,
    "selectbox": _choice,
    "multiselect": _multiselect,
    "slider": _slider,
    "date_input": _dates,
    "date_time_input": _dates,
}

# Widgets the synthetic user fills (``fill:``), read with the value it sent.
_TYPED: dict[str, Callable[[Any, Any], str]] = {
    "text_input": _text_input,
    "text_area": lambda widget, value: _widget(widget.label, value),
    "number_input": lambda widget, value: _widget(
        widget.label, _number(float(value), widget.format)
    ),
    "selectbox": _typed_selectbox,
}
