"""``--output json``: one JSON object per event, for machines.

``json.dumps`` escapes C0 controls but leaves DEL, C1 controls, U+2028/U+2029
and lone surrogates as they are: those are written as ``\\uXXXX`` escapes too,
so each event is one line that any encoding can write, and that no terminal or
log viewer splits or obeys; a JSON reader gets the same strings back."""

from __future__ import annotations

import json
import re
import sys
import threading
from typing import TextIO

from opskit.events import Event

_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def json_line(document: object) -> str:
    """One JSON document on one line of text that prints anywhere as it is."""
    text = json.dumps(document, default=str, ensure_ascii=False)
    return _RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class JsonLinesReporter:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        text = json_line(event.as_dict())
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()
