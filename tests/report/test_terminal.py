"""The terminal view as a user's terminal shows it: ``opskit run`` in a
pseudo-terminal, because under pytest stdout is never a TTY and a test that
only reads captured output cannot tell colour rules apart."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pty_run import run_on_terminal

SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and weight codes, not the live line's \r\x1b[K
GREEN_OK = "\x1b[32m✓ ok\x1b[0m probe"
GREEN_PASSED = "\x1b[32mPASSED in"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def playbook(tmp_path: Path) -> Iterator[Path]:
    """A one-step playbook probing a loopback server, so the real CLI runs offline."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = tmp_path / "probe.yaml"
    path.write_text(
        "steps:\n"
        "  - id: probe\n"
        "    uses: http.probe\n"
        f"    with: {{url: 'http://127.0.0.1:{server.server_address[1]}/'}}\n"
    )
    yield path
    server.shutdown()
    server.server_close()


def _environment(**changes: str | None) -> dict[str, str]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_in_terminal(playbook: Path, env: dict[str, str]) -> tuple[int, str]:
    """``opskit run`` with stdin, stdout and stderr on a pseudo-terminal, as typed."""
    return run_on_terminal(["run", str(playbook)], env, playbook.parent)


def run_in_pipe(playbook: Path, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "opskit", "run", str(playbook)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=playbook.parent,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.decode("utf-8")


def test_a_terminal_gets_colour(playbook: Path) -> None:
    code, out = run_in_terminal(playbook, _environment(NO_COLOR=None))
    assert code == 0, out
    assert GREEN_OK in out
    assert GREEN_PASSED in out


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"NO_COLOR": "1"}, "NO_COLOR is set"),
        ({"NO_COLOR": None, "TERM": "dumb"}, "TERM is dumb"),
    ],
    ids=["NO_COLOR", "TERM=dumb"],
)
def test_a_terminal_gets_no_colour_when_asked_not_to(
    playbook: Path, changes: dict[str, str | None], why: str
) -> None:
    code, out = run_in_terminal(playbook, _environment(**changes))
    assert code == 0, out
    assert SGR.findall(out) == [], why
    assert "✓ ok probe" in out
    assert "PASSED in" in out


def test_a_pipe_gets_no_colour(playbook: Path) -> None:
    code, out = run_in_pipe(playbook, _environment(NO_COLOR=None))
    assert code == 0, out
    assert "\x1b[" not in out
    assert "✓ ok probe" in out
    assert "PASSED in" in out
