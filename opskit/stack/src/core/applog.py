"""The app's log lines: one format, to stdout, flushed line by line.

On ECS the awslogs driver (and in the sandbox the local agent) ships every
stdout line to CloudWatch Logs, where playbooks look for the markers of
``core.markers``; a line held in a buffer is a marker nobody sees.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

ROOT = "chatbot"
_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is now (tests and Streamlit may swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def get_logger(name: str) -> logging.Logger:
    """``chatbot.<name>``, with the shared stdout handler installed once."""
    root = logging.getLogger(ROOT)
    if not getattr(root, "_chatbot_configured", False):
        handler = _StdoutHandler(sys.stdout)  # a StreamHandler flushes every record
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False  # Streamlit configures the root logger its own way
        root._chatbot_configured = True  # type: ignore[attr-defined]
    return logging.getLogger(f"{ROOT}.{name}")
