"""A synthetic Streamlit user, without a browser and without Streamlit.

- ``proto``: opskit's own description of the wire messages it reads and sends.
- ``page``: the page as the browser keeps it (elements by delta path).
- ``session``: the websocket session: load the app, ask in its chat input.
- ``pages``: a multipage app's pages, and the base path in a URL.
- ``widgets``: the widget states a person's typing and clicking sends.
"""

from __future__ import annotations

from opskit.streamlit.page import Node, Page, ShownException
from opskit.streamlit.pages import PageMissing
from opskit.streamlit.session import (
    RunOutcome,
    RunTimeout,
    SessionUnavailable,
    StreamlitSession,
    chat_value_field,
    stream_url,
)

__all__ = [
    "Node",
    "Page",
    "PageMissing",
    "RunOutcome",
    "RunTimeout",
    "SessionUnavailable",
    "ShownException",
    "StreamlitSession",
    "chat_value_field",
    "stream_url",
]
