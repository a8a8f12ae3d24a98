"""Session-scoped Streamlit servers (see ``servers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import opskit
from tests.streamlit.servers import StreamlitServer

APPS = Path(__file__).with_name("apps")
MULTIPAGE_APP = Path(__file__).with_name("multipage") / "home.py"  # with a pages/ folder
BUNDLED_APP = Path(opskit.__file__).parent / "stack" / "src" / "chatbot_app.py"
RELEASE_DIGEST = "5eed" + "0123456789abcdef" * 3 + "cafe0123456f"
SYNTAX_ERROR_APP = """import streamlit as st

st.title("never shown")
def broken(:
    pass
"""


@dataclass(frozen=True)
class Servers:
    apps: StreamlitServer  # tests/streamlit/apps, under the base path /chat
    syntax_error: StreamlitServer
    bundled: StreamlitServer  # opskit/stack/src with the local responder
    multipage: StreamlitServer  # tests/streamlit/multipage: a pages/ folder app, no base path

    def app(self, name: str) -> str:
        return f"{self.apps.url}/?app={name}"


@pytest.fixture(scope="session")
def streamlit_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("streamlit")
    (folder / "syntax_error.py").write_text(SYNTAX_ERROR_APP)
    servers = Servers(
        apps=StreamlitServer(APPS / "main.py", base_path="chat"),
        syntax_error=StreamlitServer(folder / "syntax_error.py"),
        bundled=StreamlitServer(
            BUNDLED_APP,
            env={
                "CHATBOT_MODEL_PROVIDER": "local",
                "CHATBOT_LOCAL_STREAM_DELAY": "0.002",
                "CHATBOT_RELEASE_DIGEST": RELEASE_DIGEST,
                "AWS_REGION": "us-east-1",
            },
        ),
        multipage=StreamlitServer(MULTIPAGE_APP),
    )
    everything = (servers.apps, servers.syntax_error, servers.bundled, servers.multipage)
    try:
        for server in everything:
            server.start(folder / f"{server.script.stem}.log")
        for server in everything:
            server.wait_ready()
        yield servers
    finally:
        for server in everything:
            server.stop()
