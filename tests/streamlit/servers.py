"""Real Streamlit servers on loopback for the tests, started in parallel and shared.

Each server costs a few seconds to start, so the tests share four for the whole
session: the test apps (one server, ``?app=NAME``, under a base path so that every
test also proves the base path is honoured), a script that does not compile, the
bundled chatbot with its local responder, and a multipage app with a ``pages/``
folder (a main script of its own, so it cannot be one of the test apps).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class StreamlitServer:
    script: Path
    base_path: str = ""
    env: dict[str, str] | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        base = f"/{self.base_path}" if self.base_path else ""
        return f"http://127.0.0.1:{self.port}{base}"

    def start(self, log: Path) -> None:
        self.port, self.log = free_port(), log
        command = [sys.executable, "-m", "streamlit", "run", str(self.script)]
        command += [
            "--server.headless=true",
            "--server.address=127.0.0.1",
            f"--server.port={self.port}",
            "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false",
        ]
        if self.base_path:
            command.append(f"--server.baseUrlPath={self.base_path}")
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=self.script.parent,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(self.env or {})},
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None and self.log is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            with (
                contextlib.suppress(OSError),
                HTTP.open(f"{self.url}/_stcore/health", timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.script.name} did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
