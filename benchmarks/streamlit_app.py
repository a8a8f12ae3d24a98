"""Start and stop a Streamlit app on loopback, for the benchmark scripts
(bench_streamlit_session.py, compat_streamlit.py): one process group per app,
ready once its health endpoint answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

# No proxy for loopback: a proxy variable in the environment must not see the app.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The bundled app with no AWS at all: its local responder answers.
LOCAL_APP_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "CHATBOT_MODEL_PROVIDER": "local",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(
    python: str | Path,
    script: Path,
    log: Path,
    *,
    env: dict[str, str],
    base_path: str = "",
    timeout: float = 90.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m streamlit run script`` on a free port; (process, URL) once it answers."""
    port = free_port()
    command = [str(python), "-m", "streamlit", "run", str(script)]
    command += ["--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}"]
    command += ["--server.fileWatcherType=none", "--browser.gatherUsageStats=false"]
    if base_path:
        command.append(f"--server.baseUrlPath={base_path}")
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=script.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **env},
        )
    url = f"http://127.0.0.1:{port}" + (f"/{base_path}" if base_path else "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{script.name} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), HTTP.open(f"{url}/_stcore/health", timeout=2):
            return process, url
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{script.name} did not start: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the app's process group; SIGKILL it if it has not ended in 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
