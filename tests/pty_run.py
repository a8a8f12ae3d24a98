"""``opskit`` as a person runs it: stdin, stdout and stderr on a pseudo-terminal.

Shared by the tests that need a real terminal (the live view, a ``confirm``
question): the screen as the person saw it and the exit code."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def run_on_terminal(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    answer: bytes | None = None,
    prompt: bytes = b"",
) -> tuple[int, str]:
    """``python -m opskit ARGS`` on a pty; ``answer`` is typed once the screen ends
    with ``prompt``."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "opskit", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=cwd,
    )
    os.close(terminal)
    screen = b""
    give_up = time.monotonic() + 60  # a guard against a hang, not a timed assert
    try:
        while time.monotonic() < give_up:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if answer is not None and screen.endswith(prompt):
                os.write(controller, answer)
                answer = None
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    return code, screen.decode("utf-8").replace("\r\n", "\n")
