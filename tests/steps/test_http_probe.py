"""http.probe against a real HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import StepFailed, StepTimeout
from opskit.steps.http_probe import STEP
from tests.conftest import free_port


@dataclass
class Script:
    """Responses served in order; the last one repeats."""

    responses: list[tuple[int, str, float]] = field(default_factory=list)  # status, body, delay
    hits: int = 0


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/old":
                self.send_response(302)
                self.send_header("Location", "/new")
                self.end_headers()
                return
            index = min(script.hits, len(script.responses) - 1)
            script.hits += 1
            status, body, delay = script.responses[index]
            time.sleep(delay)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def inputs(url: str, **extra: object) -> Any:
    return STEP.coerce_inputs({"url": url, **extra})


def test_200_with_the_body_marker_passes(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "ok", 0)]
    result = STEP.run(make_ctx(clock=FakeClock()), inputs(url + "/health", expect_body="ok"))
    assert result.status == "ok"
    assert result.outputs.status == 200
    assert result.outputs.attempts == 1
    assert "body contains 'ok'" in result.summary


def test_500_then_200_retries_with_backoff(server, make_ctx) -> None:
    url, script = server
    script.responses = [(500, "boom", 0), (500, "boom", 0), (200, "ok", 0)]
    clock = FakeClock()
    result = STEP.run(make_ctx(clock=clock), inputs(url, interval=1.0))
    assert vars(result.outputs) == {
        "status": 200,
        "latency_ms": result.outputs.latency_ms,
        "attempts": 3,
    }
    assert clock.sleeps == [1.0, 2.0]


def test_wrong_body_fails_at_timeout_and_says_why(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "error: script failed", 0)]
    with pytest.raises(StepTimeout) as failure:
        STEP.run(make_ctx(clock=FakeClock(), timeout=20), inputs(url, expect_body="ok"))
    assert "body does not contain 'ok'" in failure.value.summary
    assert "'error: script failed'" in failure.value.summary
    assert failure.value.outputs.status == 200


def test_too_slow_counts_as_failure(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "ok", 0.3)]
    with pytest.raises(StepFailed) as failure:
        STEP.run(make_ctx(clock=FakeClock()), inputs(url, max_latency=0.1, failure_limit=0))
    assert "over max_latency 100ms" in failure.value.summary


def test_connection_refused_is_reported_in_words(make_ctx) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(StepTimeout) as failure:
        STEP.run(make_ctx(clock=FakeClock(), timeout=5), inputs(url))
    assert "connection refused" in failure.value.summary
    assert failure.value.outputs.status is None


def test_redirect_is_followed_by_default_and_can_be_refused(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "new page", 0)]
    result = STEP.run(make_ctx(clock=FakeClock()), inputs(url + "/old", expect_body="new page"))
    assert result.outputs.status == 200
    result = STEP.run(
        make_ctx(clock=FakeClock()),
        inputs(url + "/old", follow_redirects=False, expect_status=[302]),
    )
    assert result.outputs.status == 302


def test_consecutive_successes_reset_on_a_failure(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "ok", 0), (503, "", 0), (200, "ok", 0), (200, "ok", 0)]
    result = STEP.run(make_ctx(clock=FakeClock()), inputs(url, consecutive=2))
    assert result.outputs.attempts == 4


def test_failure_limit_fails_early(server, make_ctx) -> None:
    url, script = server
    script.responses = [(500, "", 0)]
    with pytest.raises(StepFailed) as failure:
        STEP.run(make_ctx(clock=FakeClock(), timeout=600), inputs(url, failure_limit=2))
    assert failure.value.outputs.attempts == 3
    assert "failure_limit 2" in failure.value.summary


def test_dry_run_reports_the_current_answer_without_failing(server, make_ctx) -> None:
    url, script = server
    script.responses = [(500, "", 0)]
    result = STEP.plan(make_ctx(), inputs(url))
    assert result.status == "ok"
    assert result.summary == f"would probe {url}; would fail now: status 500, expected 200"
    assert script.hits == 1


def test_verify_playbook_against_a_local_server(server, tmp_path, monkeypatch, capsys) -> None:
    """The bundled verify playbook's HTTP probes (target local), through the CLI; its chat
    step needs a Streamlit server (tests/streamlit), so --only leaves it out here."""
    from pathlib import Path

    from opskit.cli import main

    url, script = server
    script.responses = [(200, "ok", 0)]
    playbook = Path(__file__).resolve().parents[2] / "playbooks" / "verify.yaml"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["run", str(playbook), "-t", "local", "-e", f"url={url}", "--report", "out"]
            + ["--only", "script_health", "--only", "page"]
        )
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "ok script_health" in out and "ok page" in out
    assert "not selected (--from/--only)" in out
    assert sorted(p.name for p in Path("out").iterdir()) == [
        "junit.xml",
        "report.json",
        "report.md",
    ]
