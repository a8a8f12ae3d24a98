"""A task as a local process, its logs shipped as the awslogs driver ships them.

Each task runs in its own process group (the entrypoint and the Streamlit
server it starts), so stopping a task stops everything it started. Every
stdout/stderr line becomes a CloudWatch Logs event in the stream
``PREFIX/CONTAINER/TASK_ID`` (created before the process starts), sent in
batches every ~0.2 s like the awslogs driver's non-blocking mode. Under the
``late`` fault a line is held back its seconds and then sent with the timestamp
it was written at, as CloudWatch delivers a late event.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opskit.sandbox.aws_faults.board import AwsFaultBoard

log = logging.getLogger("opskit.sandbox")

HEALTH_PATH = "/_stcore/health"
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL, as `docker stop` (ECS uses 30)
_MAX_BATCH = 5000  # put_log_events takes up to 10,000 events / 1 MiB


class LogShipper:
    """One thread that batches lines of every task into ``put_log_events``."""

    def __init__(
        self,
        logs_client: Any,
        log_group: str,
        interval: float = 0.2,
        *,
        faults: AwsFaultBoard | None = None,
    ):
        self._client = logs_client
        self._group = log_group
        self._interval = interval
        self._faults = faults
        # (stream, timestamp in epoch ms, text, when it was written on the faults' clock)
        self._queue: queue.Queue[tuple[str, int, str, float]] = queue.Queue()
        self._held: list[tuple[float, str, int, str]] = []  # (due, stream, timestamp, text)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-logs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def open_stream(self, stream: str) -> None:
        self._client.create_log_stream(logGroupName=self._group, logStreamName=stream)

    def line(self, stream: str, text: str) -> None:
        written = self._faults.clock() if self._faults is not None else 0.0
        self._queue.put((stream, int(time.time() * 1000), text, written))

    def flush(self, *, held_too: bool = False) -> None:
        """Send everything queued so far (called before a task is recorded STOPPED,
        so its last lines are readable when the record says it stopped), except
        the lines the ``late`` fault holds back until they are due (``held_too``:
        those as well, as the sandbox stops)."""
        with self._send_lock:
            batches: dict[str, list[tuple[int, str]]] = defaultdict(list)
            while True:
                try:
                    stream, timestamp, text, written = self._queue.get_nowait()
                except queue.Empty:
                    break
                delay = self._faults.late_delay(text) if self._faults is not None else None
                if delay is None:
                    batches[stream].append((timestamp, text))
                else:
                    self._held.append((written + delay, stream, timestamp, text))
            now = self._faults.clock() if self._faults is not None else 0.0
            due = [h for h in self._held if held_too or h[0] <= now]
            self._held = [h for h in self._held if h not in due]
            for _, stream, timestamp, text in due:
                batches[stream].append((timestamp, text))
            for stream, lines in batches.items():
                lines.sort(key=lambda item: item[0])
                for start in range(0, len(lines), _MAX_BATCH):
                    events = [
                        {"timestamp": ts, "message": text}
                        for ts, text in lines[start : start + _MAX_BATCH]
                    ]
                    try:
                        self._client.put_log_events(
                            logGroupName=self._group, logStreamName=stream, logEvents=events
                        )
                    except Exception as err:  # noqa: BLE001 - a lost batch must not stop the agent
                        log.warning("lost %d log lines of %s: %s", len(events), stream, err)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
        self.flush(held_too=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


@dataclass
class TaskProcess:
    """One running task: the process, its port and where its lines go."""

    task_id: str
    deployment_id: str
    port: int
    stream: str
    workdir: Path
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    healthy: bool = False
    stop_reason: str | None = None  # set once the agent (or a StopTask call) stops it
    _readers: list[threading.Thread] = field(default_factory=list)
    _kill_timer: threading.Timer | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        """The container's exit code once it exited (signal N -> 128+N, as Docker says)."""
        code = self.process.poll()
        if code is None:
            return None
        return 128 - code if code < 0 else code

    def check_health(self, timeout: float = 1.0) -> bool:
        url = f"http://127.0.0.1:{self.port}{HEALTH_PATH}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def request_stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the task's process group now, SIGKILL it after ``grace`` seconds."""
        _signal_group(self.process, signal.SIGTERM)
        timer = threading.Timer(grace, _signal_group, (self.process, signal.SIGKILL))
        timer.daemon = True
        timer.start()
        self._kill_timer = timer

    def finish(self, shipper: LogShipper) -> None:
        """After the process exited: kill leftovers of its group, ship its last
        lines, remove its directory."""
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        _signal_group(self.process, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=3)
        shipper.flush()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def launch(
    *,
    task_id: str,
    deployment_id: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    stream: str,
    shipper: LogShipper,
) -> TaskProcess:
    """Start the task's process in a fresh directory (its ``APP_DIR`` is
    ``<dir>/app``); its stream exists before its first line."""
    workdir = Path(tempfile.mkdtemp(prefix=f"opskit-task-{task_id[:8]}-"))
    shipper.open_stream(stream)
    full_env = {**env, "APP_DIR": str(workdir / "app")}
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    task = TaskProcess(task_id, deployment_id, port, stream, workdir, process)
    for pipe in (process.stdout, process.stderr):
        assert pipe is not None
        reader = threading.Thread(
            target=_follow, args=(pipe, stream, shipper), name=f"task-{task_id[:8]}", daemon=True
        )
        reader.start()
        task._readers.append(reader)
    return task


def _follow(pipe: IO[bytes], stream: str, shipper: LogShipper) -> None:
    with pipe:
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text:  # CloudWatch rejects empty messages; the awslogs driver skips them too
                shipper.line(stream, text)
