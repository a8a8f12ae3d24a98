"""``streamlit.session`` against real Streamlit servers on loopback (issue 11, tests 1, 3, 4)."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opskit.cli import main
from opskit.clock import Clock, FakeClock
from opskit.errors import StepError, StepFailed, StepTimeout
from opskit.steps import get
from opskit.steps.streamlit_session import STEP
from tests.conftest import ContextFactory, free_port
from tests.streamlit.conftest import RELEASE_DIGEST, Servers

REDEPLOY_ANSWER = "new ECS deployment"  # the local responder's answer to the question below


def run_step(make_ctx: ContextFactory, timeout: float = 30.0, **given: Any) -> Any:
    ctx = make_ctx(uses="streamlit.session", clock=Clock(), timeout=timeout)
    return STEP.run(ctx, STEP.coerce_inputs(given))


def failure(make_ctx: ContextFactory, kind: type[StepFailed], **given: Any) -> StepFailed:
    with pytest.raises(kind) as info:
        run_step(make_ctx, **given)
    assert type(info.value) is kind, info.value
    return info.value


# --- 1. the bundled app -------------------------------------------------------------------


def test_the_bundled_app_answers_a_faq_question_on_a_page_that_shows_its_release(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    question = "How do I redeploy the service?"
    result = run_step(
        make_ctx,
        url=streamlit_servers.bundled.url,
        ask=[{"question": question, "expect": [REDEPLOY_ANSWER], "forbid": ["re:(?i)traceback"]}],
        expect_page=[f"release {RELEASE_DIGEST[:12]}"],
    )

    assert result.status == "ok"
    outputs = vars(result.outputs)
    assert outputs["streamlit_version"].startswith("1.")
    (answer,) = outputs["answers"]
    assert answer["question"] == question
    # Both columns, as rendered: markdown marks gone, the fast and the detailed answer.
    assert "Nova Micro · fast answer · local" in answer["answer"]
    assert "forces a new ECS deployment" in answer["answer"]
    assert "ecs.redeploy forces a new deployment" in answer["answer"]
    assert question not in answer["answer"]  # the user's own message is not the answer
    assert 0 < answer["first_text_ms"] <= answer["total_ms"]
    assert outputs["exceptions"] == [] and outputs["errors"] == []
    assert f"release {RELEASE_DIGEST[:12]}" in outputs["page_text"].splitlines()
    assert result.summary.startswith(f"asked 1 question: {len(answer['answer'])} chars in ")
    assert "(first text " in result.summary and "no exception, no error" in result.summary
    # The transcript that the Markdown report shows.
    assert f"Q: {question}" in result.detail
    assert "  opskit's redeploy playbook syncs src/ to S3, forces a new ECS" in result.detail
    # The live view showed the answer as it streamed, then the whole of it.
    streamed = make_ctx.messages("progress")
    assert streamed and all(m.startswith(f'"{question}" ← ') for m in streamed)
    assert f"Q: {question}" in make_ctx.messages("info")
    # The timeline: the question when asked, the answer when complete, no text of either.
    marks = [e for e in make_ctx.events if e.kind == "mark"]
    assert [(e.message, e.data["what"]) for e in marks] == [
        ("question 1 asked", "question"),
        ("answer 1 ok", "answer"),
    ]
    took = marks[1].data["at"] - marks[0].data["at"]
    assert took == pytest.approx(answer["total_ms"] / 1000, abs=0.001)


def test_a_release_the_page_does_not_show_fails_naming_the_pattern(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx,
        StepFailed,
        url=streamlit_servers.bundled.url,
        ask=["hello"],
        expect_page=["release 000000000000"],
    )
    assert err.summary.startswith("the page lacks 'release 000000000000': ")
    assert err.outputs.answers[0]["question"] == "hello"


def test_an_answer_without_the_expected_words_fails_quoting_it(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx,
        StepFailed,
        url=streamlit_servers.bundled.url,
        ask=[{"question": "hello", "expect": [REDEPLOY_ANSWER]}],
    )
    assert err.summary.startswith(
        "\"hello\": the answer lacks 'new ECS deployment': 'Nova Micro · fast answer · local Hello!"
    )
    marks = [(e.message, e.data["what"]) for e in make_ctx.events if e.kind == "mark"]
    assert marks == [("question 1 asked", "question"), ("answer 1 failed", "failure")]


def test_a_forbidden_pattern_in_the_answer_fails_quoting_its_line(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx,
        StepFailed,
        url=streamlit_servers.app("echo"),
        ask=[{"question": "is it 42?", "forbid": ["re:answer is \\d+"]}],
    )
    assert err.summary == (
        "\"is it 42?\": the answer holds 're:answer is \\\\d+': "
        "'You asked is it 42?. The answer is 42.'"
    )


# --- 3. small apps ------------------------------------------------------------------------


def test_a_healthy_chat_app_under_a_base_path_passes(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx,
        url=streamlit_servers.app("echo"),
        ask=["first?", {"question": "second?", "expect": ["You asked second?"]}],
        expect_page=["release test-1", "re:Echo app"],
    )
    answers = result.outputs.answers
    # Each answer is that run's new text only, not the earlier turn redrawn.
    assert [a["answer"] for a in answers] == [
        "You asked first?. The answer is 42.",
        "You asked second?. The answer is 42.",
    ]
    assert result.summary.startswith("asked 2 questions: 71 chars in ")


def test_a_question_that_raises_fails_with_the_exception(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    url = streamlit_servers.app("raises_on_question")
    assert run_step(make_ctx, url=url).status == "ok"  # the page itself loads fine

    err = failure(make_ctx, StepFailed, url=url, ask=["anything"])

    assert err.summary == (
        '"anything": the page shows an exception: RuntimeError: the answer path is broken'
    )
    assert err.outputs.exceptions == [
        {"type": "RuntimeError", "message": "the answer path is broken"}
    ]
    assert "Exceptions on the page:\n  RuntimeError: the answer path is broken" in err.detail


def test_an_error_alert_fails_with_its_text_unless_errors_are_allowed(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    url = streamlit_servers.app("error_answer")
    err = failure(make_ctx, StepFailed, url=url, ask=["How?"])
    assert err.summary == (
        '"How?": the page shows an error: Nova Micro failed: unexpected AttributeError'
    )
    assert err.outputs.errors == ["Nova Micro failed: unexpected AttributeError"]
    assert "Errors on the page:\n  Nova Micro failed: unexpected AttributeError" in err.detail

    allowed = run_step(make_ctx, url=url, ask=["How?"], allow_errors=True)
    assert allowed.status == "ok"
    assert "1 error(s) allowed: Nova Micro failed: unexpected AttributeError" in allowed.summary


def test_a_slow_stream_passes_with_timings_that_span_it(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx, url=streamlit_servers.app("slow"), ask=[{"question": "go", "expect": ["word19"]}]
    )
    (answer,) = result.outputs.answers
    assert answer["answer"] == " ".join(f"word{i}" for i in range(20))
    # The app sleeps 0.12 s after each of its 20 words: the run lasts at least
    # 2.4 s, and the first word came before at least 19 of those sleeps.
    assert answer["total_ms"] >= 2400
    assert answer["first_text_ms"] <= answer["total_ms"] - 19 * 120
    # The live view saw the answer grow.
    grown = [m for m in make_ctx.messages("progress") if m.startswith('"go" ← ')]
    assert len(grown) >= 3 and grown[-1] != grown[0]


def test_a_run_that_shows_no_answer_fails(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=streamlit_servers.app("silent"), ask=["anyone?"])
    assert err.summary == ('"anyone?": no answer: the run finished and the page shows nothing new')
    assert err.outputs.answers[0]["answer"] == ""


def test_a_page_without_a_chat_input_could_not_be_checked(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # Nothing to type into is not a broken release (issue 20): error, not failed.
    err = failure(make_ctx, StepError, url=streamlit_servers.app("no_chat_input"), ask=["hi"])
    assert err.summary == 'no chat input on the page to ask "hi" (chat inputs: none)'
    assert "This page has no chat input." in err.outputs.page_text


def test_the_chat_input_is_chosen_by_placeholder_or_key(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    url = streamlit_servers.app("two_inputs")
    # Two the playbook does not tell apart: its ambiguity, could not check (not failed).
    err = failure(make_ctx, StepError, url=url, ask=["hi"])
    assert err.summary == (
        "2 chat inputs on the page (placeholder 'Ask support' (key 'support'), "
        "placeholder 'Ask sales' (key 'sales')): name the one to ask in with placeholder or key"
    )
    by_placeholder = run_step(make_ctx, url=url, ask=["hi"], placeholder="Ask sales")
    assert by_placeholder.outputs.answers[0]["answer"] == "sales answers: hi"
    by_key = run_step(make_ctx, url=url, ask=["hi"], key="support")
    assert by_key.outputs.answers[0]["answer"] == "support answers: hi"
    err = failure(make_ctx, StepError, url=url, ask=["hi"], key="billing")
    assert err.summary == (
        "no chat input with key 'billing' on the page to ask \"hi\" "
        "(chat inputs: 'Ask support', 'Ask sales')"
    )


def test_a_script_that_raises_at_load_fails_before_any_question(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx, StepFailed, url=streamlit_servers.app("raises_at_load"), ask=["never asked"]
    )
    assert err.summary == (
        "before any question: the page shows an exception: ValueError: settings are missing"
    )
    assert err.outputs.answers == []


def test_a_script_that_does_not_compile_fails_before_any_question(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=streamlit_servers.syntax_error.url, ask=["hi"])
    assert err.summary.startswith("before any question: the page shows an exception: SyntaxError")
    assert err.outputs.exceptions[0]["type"] == "SyntaxError"


def test_an_answer_that_never_finishes_fails_at_the_timeout_naming_the_question(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # The step's clock stands still until the answer has begun to stream, then
    # reaches the step's deadline: the timeout falls mid-answer on any machine.
    clock = FakeClock()
    ctx = make_ctx(uses="streamlit.session", clock=clock, timeout=2.5)

    def emit(kind: str, message: str, **data: Any) -> None:
        ctx.emit(kind, message, **data)
        if kind == "progress" and data.get("chars"):
            clock.now = ctx.deadline.at or clock.now

    inputs = STEP.coerce_inputs(
        {"url": streamlit_servers.app("never_finishes"), "ask": ["are you there?"]}
    )
    with pytest.raises(StepTimeout) as info:
        STEP.run(dataclasses.replace(ctx, emit=emit), inputs)

    assert info.value.summary == (
        'timed out after 2.5s waiting for the answer to "are you there?" '
        "(the script was still running; 11 chars of answer so far)"
    )
    (answer,) = info.value.outputs.answers
    assert (answer["answer"], answer["total_ms"]) == ("thinking...", None)


def test_a_page_that_never_finishes_loading_fails_at_the_timeout(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    with pytest.raises(StepTimeout) as info:
        run_step(make_ctx, timeout=1.5, url=streamlit_servers.app("hangs_at_load"), ask=["hi"])
    assert re.fullmatch(
        r"timed out after 1\.\d+s: the page did not finish loading", info.value.summary
    ), info.value.summary
    assert info.value.outputs.answers == []


def test_cached_message_references_are_resolved(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(make_ctx, url=streamlit_servers.app("big_page"), ask=["one", "two"])
    page = result.outputs.page_text
    assert page.startswith("big block start lorem ipsum") and "big block end" in page
    assert result.outputs.answers[1]["answer"] == "answer to two"


def test_a_dry_run_says_what_it_would_ask_and_sends_nothing(make_ctx: ContextFactory) -> None:
    port = free_port()  # nothing listens: a connection attempt would fail the plan
    ctx = make_ctx(uses="streamlit.session")
    inputs = STEP.coerce_inputs(
        {
            "url": f"http://127.0.0.1:{port}/chat",
            "ask": [{"question": "How?", "expect": ["deploy"], "forbid": ["re:(?i)traceback"]}],
            "expect_page": ["release abc"],
        }
    )
    assert STEP.plan is not None
    result = STEP.plan(ctx, inputs)
    assert result.summary == (
        f"would open a session on ws://127.0.0.1:{port}/chat/_stcore/stream; "
        "ask \"How?\" (expect 'deploy', forbid 're:(?i)traceback'); "
        "expect the page to show 'release abc' (dry run: nothing sent)"
    )
    assert get("streamlit.session") is STEP


# --- 4. what could not be checked, and what the playbook got wrong ----------------------


@pytest.fixture(scope="module")
def not_streamlit() -> Iterator[str]:
    """A plain web server: 200 on /, 404 on everything else, no websocket."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b"<html>hello</html>"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], with_: dict[str, Any]
) -> tuple[int, str, dict[str, Any] | None]:
    playbook = tmp_path / "chat.yaml"
    step = {"id": "chat", "uses": "streamlit.session", "with": with_, "timeout": "20s"}
    playbook.write_text(json.dumps({"name": "chat", "steps": [step]}, indent=1))
    report = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(playbook), "--report", str(report)])
    out, err = capsys.readouterr()
    steps = None
    if (report / "report.json").is_file():
        steps = json.loads((report / "report.json").read_text())["steps"][0]
    return int(exit_info.value.code), out + err, steps


def test_a_server_that_is_not_streamlit_is_an_error_not_a_failure(
    not_streamlit: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, step = run_cli(tmp_path, capsys, {"url": not_streamlit, "ask": ["hi"]})
    assert code == 1
    assert step is not None and step["status"] == "error"
    port = not_streamlit.rsplit(":", 1)[1]
    line = (
        f"ws://127.0.0.1:{port}/_stcore/stream: HTTP 404 on the handshake: no Streamlit "
        "websocket there (not a Streamlit app, or a wrong base path?)"
    )
    assert step["summary"] == line
    assert "ERROR chat " in output and line in output and "Traceback" not in output


def test_a_closed_port_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, output, step = run_cli(tmp_path, capsys, {"url": f"http://127.0.0.1:{port}"})
    assert code == 1 and step is not None and step["status"] == "error"
    assert step["summary"] == f"ws://127.0.0.1:{port}/_stcore/stream: connection refused"
    assert "Traceback" not in output


def test_a_wrong_base_path_is_an_error_naming_it(
    streamlit_servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{streamlit_servers.apps.port}/wrong/path"
    code, _, step = run_cli(tmp_path, capsys, {"url": url, "ask": ["hi"]})
    assert code == 1 and step is not None and step["status"] == "error"
    assert step["summary"].startswith(
        f"ws://127.0.0.1:{streamlit_servers.apps.port}/wrong/path/_stcore/stream: HTTP "
    )


def test_a_refused_handshake_is_an_error(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # Streamlit refuses a websocket from a foreign origin with 403, as it would an
    # auth proxy's refusal: opskit could not check.
    err = failure(
        make_ctx,
        StepError,
        url=streamlit_servers.app("echo"),
        ask=["hi"],
        headers={"Origin": "https://elsewhere.example"},
    )
    assert err.summary == (
        f"ws://127.0.0.1:{streamlit_servers.apps.port}/chat/_stcore/stream: HTTP 403 on the "
        "handshake: the server refused the session (an auth proxy, or the origin/XSRF check?)"
    )


BAD_INPUT = [
    ({"url": "ftp://127.0.0.1/app"}, "with.url: expected an http:// or https:// URL of the app"),
    ({"url": "127.0.0.1:8501"}, "with.url: expected an http:// or https:// URL of the app"),
    (
        {"url": "http://127.0.0.1:1", "ask": "How do I redeploy?"},
        "with.ask: expected a list of questions, got string 'How do I redeploy?': "
        'write ask: ["How do I ...?"] or a list of {question, expect, forbid}',
    ),
    (
        {"url": "http://127.0.0.1:1", "ask": {"question": "How?"}},
        "with.ask: expected a list of questions, got mapping {'question': 'How?'}",
    ),
    (
        {"url": "http://127.0.0.1:1", "ask": [{"question": "How?", "expected": ["x"]}]},
        "with.ask[0].expected: unknown key 'expected' (did you mean 'expect'?); "
        "known: click, expect, fill, forbid, non_answers, question",
    ),
    (
        {"url": "http://127.0.0.1:1", "ask": ["ok", {"question": "How?", "forbid": ["re:("]}]},
        "with.ask[1].forbid[0]: invalid regular expression 're:('",
    ),
    (
        {"url": "http://127.0.0.1:1", "ask": [{"expect": ["x"]}]},
        "with.ask[0]: needs a question, or fill and/or click",
    ),
]


@pytest.mark.parametrize(("with_", "message"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(
    with_: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, _ = run_cli(tmp_path, capsys, with_)
    assert code == 2, output
    lines = [line for line in output.splitlines() if message in line]
    assert len(lines) == 1, output
    assert str(tmp_path / "chat.yaml") in lines[0] and "Traceback" not in output
