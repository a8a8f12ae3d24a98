"""http.probe against a real HTTP server on loopback."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import pytest

from opskit.clock import FakeClock
from opskit.errors import StepFailed, StepTimeout
from opskit.steps.http_probe import STEP
from tests.conftest import free_port


@dataclass
class Script:
    """Responses served in order; the last one repeats. ``requests``: each request's
    path and headers, as the server received them."""

    responses: list[tuple[int, str, float]] = field(default_factory=list)  # status, body, delay
    hits: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def serve() -> Iterator[tuple[str, Script]]:
    """A server on loopback: ``/old`` redirects to ``/new``; ``/to/URL`` (URL
    percent-encoded) redirects to URL; anything else plays the script."""
    script = Script(responses=[(200, "ok", 0)])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            script.requests.append((self.path, dict(self.headers.items())))
            if self.path == "/old" or self.path.startswith("/to/"):
                self.send_response(302)
                location = "/new" if self.path == "/old" else unquote(self.path[len("/to/") :])
                self.send_header("Location", location)
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
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with serve() as served:
        yield served


@pytest.fixture
def other_server() -> Iterator[tuple[str, Script]]:
    """A second server: another port, so another origin."""
    with serve() as served:
        yield served


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
    marks = [(e.message, e.data["what"], e.data["at"]) for e in make_ctx.events if e.kind == "mark"]
    start = 1_700_000_000.0  # FakeClock's; each attempt marked when it was sent
    assert marks == [
        ("probe 500", "probe", start),
        ("probe 500", "probe", start + 1.0),
        ("probe 200", "probe", start + 3.0),
    ]


def test_wrong_body_fails_at_timeout_and_says_why(server, make_ctx) -> None:
    url, script = server
    script.responses = [(200, "error: script failed", 0)]
    with pytest.raises(StepTimeout) as failure:
        STEP.run(make_ctx(clock=FakeClock(), timeout=20), inputs(url, expect_body="ok"))
    assert "body does not contain 'ok'" in failure.value.summary
    assert "'error: script failed'" in failure.value.summary
    assert failure.value.outputs.status == 200
    # the failure is drawn at the last failed attempt, the others as they were
    marks = [(e.message, e.data["what"]) for e in make_ctx.events if e.kind == "mark"]
    assert marks[-1] == ("probe 200 failed (timed out)", "failure")
    assert set(marks[:-1]) == {("probe 200 failed", "probe")}


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
    marks = [(e.message, e.data["what"], e.data["at"]) for e in make_ctx.events if e.kind == "mark"]
    start = 1_700_000_000.0  # FakeClock's: the third attempt, sent after 1 s and 2 s
    assert marks == [
        ("probe 500", "probe", start),
        ("probe 500", "probe", start + 1.0),
        ("probe 500 (failure_limit reached)", "failure", start + 3.0),
    ]


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


CREDENTIALS = {"Authorization": "Bearer abc123", "Cookie": "session=s3cr3t", "X-Api-Key": "k-42"}


def test_a_redirect_to_another_port_drops_the_credentials(server, other_server, make_ctx) -> None:
    """curl and requests drop credentials when a redirect leaves the origin
    (scheme, host and port): the other server must not see them."""
    url, script = server
    other_url, other = other_server
    headers = {**CREDENTIALS, "X-Request-Purpose": "probe"}
    result = STEP.run(
        make_ctx(clock=FakeClock()),
        inputs(
            f"{url}/to/{quote(other_url + '/landing', safe='')}",
            headers=headers,
            secret_headers=["x-api-key"],
        ),
    )
    # The latency in the summary is the unrounded one (latency_ms is rounded to 0.1).
    said, took = result.summary.rsplit(" in ", 1)
    assert said == (
        f"{url}/to/{quote(other_url + '/landing', safe='')}: status 200 "
        f"(redirected to {other_url}/landing, another origin: Authorization, Cookie, "
        "X-Api-Key not sent)"
    )
    assert re.fullmatch(r"\d+ ms", took), took
    assert [path for path, _ in other.requests] == ["/landing"]
    received = other.requests[0][1]
    assert {k: v for k, v in received.items() if k.startswith("X-")} == {
        "X-Request-Purpose": "probe"
    }
    assert not {"Authorization", "Cookie", "X-Api-Key"} & set(received)
    assert {k: script.requests[0][1][k] for k in CREDENTIALS} == CREDENTIALS


def test_a_redirect_within_the_origin_keeps_the_credentials(server, make_ctx) -> None:
    url, script = server
    STEP.run(make_ctx(clock=FakeClock()), inputs(url + "/old", headers=CREDENTIALS))
    assert [path for path, _ in script.requests] == ["/old", "/new"]
    assert {k: script.requests[1][1][k] for k in CREDENTIALS} == CREDENTIALS


def test_template_syntax_in_values_reaches_the_url_as_text(
    server, tmp_path, monkeypatch, cli
) -> None:
    """Issue 21's case: ``-e 'x={{ env.GITHUB_TOKEN }}'`` while other vars need
    resolving after it; the server sees the text, never the token."""
    url, script = server
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_the_real_token")
    monkeypatch.chdir(tmp_path)
    playbook = tmp_path / "probe.yaml"
    playbook.write_text(
        "vars:\n"
        '  origin: "{{ vars.scheme }}://{{ vars.hostport }}"\n'
        "  scheme: http\n"
        '  url: "{{ vars.origin }}/health?v={{ vars.x }}"\n'
        '  greeting: "hello {{ vars.y }}"\n'
        "steps:\n"
        "  - id: probe\n"
        "    uses: http.probe\n"
        '    with: {url: "{{ vars.url }}", headers: {X-Greeting: "{{ vars.greeting }}"}}\n'
    )
    (tmp_path / "vars.yaml").write_text("y: '{{ env.GITHUB_TOKEN }}'\n")
    hostport = url.removeprefix("http://")
    done = cli.run(
        playbook,
        *("-e", f"hostport={hostport}", "-e", "x={{env.GITHUB_TOKEN}}"),
        *("--vars-file", "vars.yaml", "--report", "out"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [(path, headers)] = script.requests
    assert path == "/health?v={{env.GITHUB_TOKEN}}"
    assert headers["X-Greeting"] == "hello {{ env.GITHUB_TOKEN }}"
    everything = done.stdout + done.stderr + (tmp_path / "out" / "report.json").read_text()
    assert "ghp_the_real_token" not in everything


def test_a_url_with_a_space_is_bad_input_naming_its_line(tmp_path, cli) -> None:
    playbook = tmp_path / "probe.yaml"
    playbook.write_text(
        "steps:\n  - id: probe\n    uses: http.probe\n"
        '    with: {url: "http://127.0.0.1:9/{{ vars.x }}"}\n'
    )
    done = cli.run(playbook, "-e", "x={{ env.GITHUB_TOKEN }}")
    assert done.returncode == 2
    assert done.stdout.splitlines()[1].startswith("INVALID in ")
    assert done.stderr == (
        f"opskit: error: {playbook}:4: steps[0].with.url: "
        "a URL cannot contain spaces or control characters (percent-encode them: %20) "
        "(after rendering)\n"
    )
