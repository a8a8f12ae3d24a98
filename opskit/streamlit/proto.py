"""opskit's own description of the Streamlit messages it reads and sends.

Streamlit's browser and server exchange protobuf messages over one websocket:
``ForwardMsg`` from the server, ``BackMsg`` from the browser. The field names and
numbers below are facts of that wire format, as published in Streamlit's
``proto/*.proto`` files; the description is written here (built at import with
``descriptor_pb2``, no ``protoc``, no Streamlit) and holds only what opskit reads
or sends. Everything else a server sends (charts, widgets, themes, fields added by
later releases) parses as unknown fields and passes untouched, as protobuf does by
design.

Enums are declared as ``int32`` so that a value added by a later Streamlit reads
as a number instead of being moved to the unknown fields. The syntax is proto2
for explicit presence on every scalar (``HasField``); parsing accepts packed and
unpacked repeated scalars alike, so proto3 senders are read correctly.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "opskit.streamlit"

# ForwardMsg.script_finished values (ForwardMsg.ScriptFinishedStatus).
FINISHED_SUCCESSFULLY = 0
FINISHED_WITH_COMPILE_ERROR = 1
FINISHED_EARLY_FOR_RERUN = 2
FINISHED_FRAGMENT_RUN_SUCCESSFULLY = 3

# Alert.format values.
ALERT_ERROR = 1
ALERT_WARNING = 2
ALERT_INFO = 3
ALERT_SUCCESS = 4

# Markdown.element_type values (st.caption, st.latex, st.divider are Markdown).
MARKDOWN_CAPTION = 2
MARKDOWN_LATEX = 4
MARKDOWN_DIVIDER = 5

# PageConfig.initial_sidebar_state values.
SIDEBAR_COLLAPSED = 2

# TextInput.type values.
TEXT_INPUT_PASSWORD = 1

# The root containers a delta path starts with (RootContainer.proto).
ROOT_CONTAINERS = {0: "main", 1: "sidebar", 2: "event", 3: "bottom"}
SIDEBAR = 1

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _F.TYPE_STRING,
    "bool": _F.TYPE_BOOL,
    "int32": _F.TYPE_INT32,
    "uint32": _F.TYPE_UINT32,
    "double": _F.TYPE_DOUBLE,
    "bytes": _F.TYPE_BYTES,
    "sint64": _F.TYPE_SINT64,
}

# name -> [(field number, field name, type, repeated, oneof)]; a type that is not a
# scalar names another message here. Numbers from Streamlit's .proto files.
_MESSAGES: dict[str, list[tuple[int, str, str, bool, str | None]]] = {
    # --- server -> browser -----------------------------------------------------
    "ForwardMsg": [
        (1, "hash", "string", False, None),
        (2, "metadata", "ForwardMsgMetadata", False, None),
        (4, "new_session", "NewSession", False, "type"),
        (5, "delta", "Delta", False, "type"),
        (6, "script_finished", "int32", False, "type"),
        (9, "session_status_changed", "SessionStatus", False, "type"),
        (10, "session_event", "SessionEvent", False, "type"),
        (11, "ref_hash", "string", False, "type"),
        (13, "page_config_changed", "PageConfig", False, "type"),
        (15, "page_not_found", "PageNotFound", False, "type"),
        (16, "pages_changed", "PagesChanged", False, "type"),  # up to 1.35 (pages/ only)
        (23, "navigation", "Navigation", False, "type"),  # 1.36+
    ],
    "PageConfig": [(4, "initial_sidebar_state", "int32", False, None)],
    "ForwardMsgMetadata": [
        (1, "cacheable", "bool", False, None),
        (2, "delta_path", "uint32", True, None),
    ],
    "NewSession": [
        (1, "initialize", "Initialize", False, None),
        (8, "app_pages", "AppPage", True, None),
        (9, "page_script_hash", "string", False, None),
    ],
    # A page of a multipage app (``pages/`` or ``st.navigation``), as its nav lists it.
    "AppPage": [
        (1, "page_script_hash", "string", False, None),
        (2, "page_name", "string", False, None),
        (4, "is_default", "bool", False, None),
        (6, "url_pathname", "string", False, None),
    ],
    "PageNotFound": [(1, "page_name", "string", False, None)],
    "PagesChanged": [(1, "app_pages", "AppPage", True, None)],
    "Navigation": [
        (2, "app_pages", "AppPage", True, None),
        (4, "page_script_hash", "string", False, None),
    ],
    "Initialize": [
        (3, "environment_info", "EnvironmentInfo", False, None),
        (6, "session_id", "string", False, None),
    ],
    "EnvironmentInfo": [
        (1, "streamlit_version", "string", False, None),
        (2, "python_version", "string", False, None),
    ],
    "SessionStatus": [(2, "script_is_running", "bool", False, None)],
    "SessionEvent": [
        (2, "script_was_manually_stopped", "bool", False, "type"),
        (3, "script_compilation_exception", "Exception", False, "type"),
    ],
    "Delta": [
        (3, "new_element", "Element", False, "type"),
        (6, "add_block", "Block", False, "type"),
    ],
    "Element": [
        (1, "text", "Text", False, "type"),
        (2, "empty", "Nothing", False, "type"),
        (5, "progress", "Progress", False, "type"),
        (6, "imgs", "ImageList", False, "type"),
        (8, "exception", "Exception", False, "type"),
        (19, "button", "Button", False, "type"),
        (20, "checkbox", "Checkbox", False, "type"),
        (21, "slider", "Slider", False, "type"),
        (22, "text_area", "TextArea", False, "type"),
        (23, "radio", "Choice", False, "type"),
        (24, "text_input", "TextInput", False, "type"),
        (25, "selectbox", "Selectbox", False, "type"),
        (26, "time_input", "TimeInput", False, "type"),
        (27, "date_input", "DateInput", False, "type"),
        (28, "multiselect", "MultiSelect", False, "type"),
        (29, "markdown", "Markdown", False, "type"),
        (30, "alert", "Alert", False, "type"),
        (31, "json", "Text", False, "type"),  # Json.body is field 1
        (32, "number_input", "NumberInput", False, "type"),
        (33, "file_uploader", "Labelled", False, "type"),
        (35, "color_picker", "ColorPicker", False, "type"),
        # Tables: ``arrow_table``/``arrow_data_frame`` (``Arrow``, field 1 the Arrow IPC
        # bytes) in older releases, ``table``/``dataframe`` (field 1 an ``ArrowData``
        # holding them) in newer ones: field 1 is read as bytes, and told apart by
        # ``opskit.streamlit.reading``.
        (39, "table", "ArrowElement", False, "type"),
        (40, "dataframe", "ArrowElement", False, "type"),
        (42, "metric", "Metric", False, "type"),
        (43, "download_button", "Labelled", False, "type"),
        (44, "spinner", "Text", False, "type"),  # Spinner.text is field 1
        (45, "camera_input", "Labelled", False, "type"),
        (47, "heading", "Heading", False, "type"),
        (48, "code", "Code", False, "type"),
        (49, "chat_input", "ChatInput", False, "type"),
        (50, "toast", "Text", False, "type"),  # Toast.body is field 1
        (51, "link_button", "Labelled", False, "type"),
        (53, "page_link", "Labelled", False, "type"),  # PageLink.label is field 2
        (54, "html", "Text", False, "type"),  # Html.body is field 1
        (55, "button_group", "ButtonGroup", False, "type"),
        (56, "audio_input", "Labelled", False, "type"),
        (62, "date_time_input", "DateTimeInput", False, "type"),
        (64, "menu_button", "Labelled", False, "type"),  # st.feedback (63) has no label
    ],
    "Nothing": [],
    "Labelled": [(1, "id", "string", False, None), (2, "label", "string", False, None)],
    "Text": [(1, "body", "string", False, None)],
    "Markdown": [
        (1, "body", "string", False, None),
        (2, "allow_html", "bool", False, None),
        (4, "element_type", "int32", False, None),
    ],
    "ArrowElement": [(1, "data", "bytes", False, None)],
    "ArrowData": [(1, "data", "bytes", False, None)],
    "Progress": [(1, "value", "uint32", False, None), (2, "text", "string", False, None)],
    "ImageList": [(1, "imgs", "Image", True, None)],
    "Image": [(2, "caption", "string", False, None)],
    "Metric": [
        (1, "label", "string", False, None),
        (2, "body", "string", False, None),
        (3, "delta", "string", False, None),
    ],
    # Widgets: the id and form the synthetic user fills and clicks by (``fill:``,
    # ``click:``), the label, the default, and the value the script set (``set_value``).
    "Button": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (5, "form_id", "string", False, None),
        (6, "is_form_submitter", "bool", False, None),
        (8, "disabled", "bool", False, None),
    ],
    "TextInput": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "default", "string", False, None),
        (4, "type", "int32", False, None),
        (7, "form_id", "string", False, None),
        (8, "value", "string", False, None),
        (9, "set_value", "bool", False, None),
        (12, "disabled", "bool", False, None),
    ],
    "TextArea": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "default", "string", False, None),
        (7, "form_id", "string", False, None),
        (8, "value", "string", False, None),
        (9, "set_value", "bool", False, None),
        (11, "disabled", "bool", False, None),
    ],
    "NumberInput": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "form_id", "string", False, None),
        (8, "format", "string", False, None),
        (13, "data_type", "int32", False, None),  # NumberInput.DataType: INT 0, FLOAT 1
        (14, "default", "double", False, None),
        (19, "value", "double", False, None),
        (20, "set_value", "bool", False, None),
        (21, "disabled", "bool", False, None),
    ],
    "Checkbox": [
        (2, "label", "string", False, None),
        (3, "default", "bool", False, None),
        (6, "value", "bool", False, None),
        (7, "set_value", "bool", False, None),
    ],
    # A radio's, selectbox's or multiselect's choice set by the script (session_state)
    # travels as the option's text, ``raw_value(s)``, with ``set_value`` (checked on 1.67).
    "Choice": [  # Radio (Selectbox has the same numbers, and more)
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "default", "int32", False, None),
        (4, "options", "string", True, None),
        (8, "set_value", "bool", False, None),
        (13, "raw_value", "string", False, None),
    ],
    "Selectbox": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "default", "int32", False, None),
        (4, "options", "string", True, None),
        (6, "form_id", "string", False, None),
        (8, "set_value", "bool", False, None),
        (9, "disabled", "bool", False, None),
        (13, "raw_value", "string", False, None),
    ],
    "MultiSelect": [
        (1, "id", "string", False, None),
        (2, "label", "string", False, None),
        (3, "default", "int32", True, None),
        (4, "options", "string", True, None),
        (8, "set_value", "bool", False, None),
        (14, "raw_values", "string", True, None),
    ],
    "Slider": [
        (3, "label", "string", False, None),
        (4, "format", "string", False, None),
        (6, "default", "double", True, None),
        (10, "value", "double", True, None),
        (11, "set_value", "bool", False, None),
        (13, "options", "string", True, None),
    ],
    "DateInput": [
        (2, "label", "string", False, None),
        (3, "default", "string", True, None),
        (9, "value", "string", True, None),
        (10, "set_value", "bool", False, None),
        (13, "format", "string", False, None),  # how the box shows a date: "YYYY/MM/DD"
    ],
    "DateTimeInput": [
        (2, "label", "string", False, None),
        (3, "default", "string", True, None),
        (8, "value", "string", True, None),
        (9, "set_value", "bool", False, None),
        (12, "format", "string", False, None),
    ],
    "TimeInput": [
        (2, "label", "string", False, None),
        (3, "default", "string", False, None),
        (6, "value", "string", False, None),
        (7, "set_value", "bool", False, None),
    ],
    "ColorPicker": [
        (2, "label", "string", False, None),
        (3, "default", "string", False, None),
        (6, "value", "string", False, None),
        (7, "set_value", "bool", False, None),
    ],
    "ButtonGroup": [
        (2, "options", "ButtonGroupOption", True, None),
        (11, "label", "string", False, None),
    ],
    "ButtonGroupOption": [(1, "content", "string", False, None)],
    "Heading": [(1, "tag", "string", False, None), (3, "body", "string", False, None)],
    "Code": [(1, "code_text", "string", False, None)],
    "Alert": [
        (1, "body", "string", False, None),
        (2, "format", "int32", False, None),
        (5, "title", "string", False, None),
    ],
    "Exception": [
        (1, "type", "string", False, None),
        (2, "message", "string", False, None),
        (3, "stack_trace", "string", True, None),
        (5, "is_warning", "bool", False, None),
    ],
    "ChatInput": [
        (1, "id", "string", False, None),
        (2, "placeholder", "string", False, None),
        (4, "disabled", "bool", False, None),
    ],
    "Block": [
        (1, "vertical", "Nothing", False, "type"),
        (2, "horizontal", "Nothing", False, "type"),
        (3, "column", "Nothing", False, "type"),
        (4, "expandable", "Expandable", False, "type"),
        (5, "form", "Nothing", False, "type"),
        (6, "tab_container", "TabContainer", False, "type"),
        (7, "tab", "LabelledBlock", False, "type"),
        (9, "chat_message", "ChatMessage", False, "type"),
        (10, "popover", "Popover", False, "type"),
        (11, "dialog", "Dialog", False, "type"),
    ],
    "LabelledBlock": [(1, "label", "string", False, None)],
    # st.expander and st.status; ``expanded`` is how the page first shows it.
    "Expandable": [(1, "label", "string", False, None), (2, "expanded", "bool", False, None)],
    "TabContainer": [(1, "default_tab_index", "int32", False, None)],
    "Popover": [(1, "label", "string", False, None), (7, "open", "bool", False, None)],
    "Dialog": [(1, "title", "string", False, None), (4, "is_open", "bool", False, None)],
    "ChatMessage": [(1, "name", "string", False, None)],
    # --- browser -> server -----------------------------------------------------
    "BackMsg": [(11, "rerun_script", "ClientState", False, "type")],
    "ClientState": [
        (1, "query_string", "string", False, None),
        (2, "widget_states", "WidgetStates", False, None),
        (3, "page_script_hash", "string", False, None),
        (4, "page_name", "string", False, None),  # a page's URL path, before its hash is known
        (7, "cached_message_hashes", "string", True, None),
    ],
    "WidgetStates": [(1, "widgets", "WidgetState", True, None)],
    # The chat input's value: ``string_trigger_value`` up to Streamlit 1.42,
    # ``chat_input_value`` from 1.43 (chat input with file uploads).
    # The widgets' values: ``trigger_value`` for a button, ``string_value`` for a
    # text input, text area and (from Streamlit 1.45) a selectbox's option,
    # ``int_value`` for a selectbox's index up to 1.44 and an integer number input,
    # ``double_value`` for a float number input.
    "WidgetState": [
        (1, "id", "string", False, None),
        (2, "trigger_value", "bool", False, "value"),
        (4, "double_value", "double", False, "value"),
        (5, "int_value", "sint64", False, "value"),
        (6, "string_value", "string", False, "value"),
        (14, "string_trigger_value", "StringTriggerValue", False, "value"),
        (15, "chat_input_value", "ChatInputValue", False, "value"),
    ],
    "StringTriggerValue": [(1, "data", "string", False, None)],
    "ChatInputValue": [(1, "data", "string", False, None)],
}


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="opskit/streamlit.proto", package=PACKAGE, syntax="proto2"
    )
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        oneofs: list[str] = []
        for number, field_name, kind, repeated, oneof in fields:
            field = message.field.add(name=field_name, number=number)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type = _F.TYPE_MESSAGE
                field.type_name = f".{PACKAGE}.{kind}"
            if oneof is not None:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())


def _message_class(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


ForwardMsg = _message_class("ForwardMsg")
BackMsg = _message_class("BackMsg")
Element = _message_class("Element")
ArrowData = _message_class("ArrowData")
Block = _message_class("Block")
