"""``--output json``: one JSON object per event, for machines."""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO

from opskit.events import Event


class JsonLinesReporter:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        text = json.dumps(event.as_dict(), default=str, ensure_ascii=False)
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()
