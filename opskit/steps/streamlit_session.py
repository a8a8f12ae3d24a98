"""``streamlit.session``: a synthetic user proves that the deployed chatbot answers.

Every other check can pass while no question gets an answer: the script health
check only proves that the script renders a page, and the incident's symptom was
"every question fails with a streaming error". This step opens a session the way
a browser tab does (``opskit.streamlit``: the websocket, no browser, no
Streamlit), types each question into the chat input, waits for that run to
finish, and judges what a person would see: exceptions, ``st.error`` alerts, the
expected words in the answer, the release shown on the page. An answer is only
what appeared for its question (``opskit.streamlit.answer``), and one that reads
as an error or an apology is no answer (``opskit.streamlit.nonanswers``).

``failed`` means the page said no; ``error`` means opskit could not check: no
session could be had (a refused connection, a 403 from an auth proxy, a server
that is not Streamlit), or the page offers neither a chat input nor the widgets
a question names (an app that is not a chat is not a broken release).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opskit.clock import Deadline
from opskit.durations import format_duration
from opskit.errors import StepError, StepFailed, StepProblem, StepTimeout
from opskit.iam.needs import NO_AWS
from opskit.logs.patterns import Pattern, check_patterns, parse_patterns
from opskit.shapes import Array, Checked, Map, OneOf, Optional, Scalar, Text
from opskit.steps.base import StepContext, StepResult, StepType, output, param
from opskit.streamlit import (
    Node,
    Page,
    PageMissing,
    RunOutcome,
    RunTimeout,
    SessionUnavailable,
    StreamlitSession,
    stream_url,
    widgets,
)
from opskit.streamlit.answer import is_placeholder, status_texts
from opskit.streamlit.nonanswers import non_answer

DEFAULT_TIMEOUT = 120.0  # when the playbook sets none: an answer that never ends must fail
LIVE_EVERY = 0.25  # seconds between live updates of a streaming answer
ANSWER_IN_DETAIL = 4000  # characters of each answer kept in the transcript


@dataclass(frozen=True)
class Question:
    """One entry of ``ask``: what to type, and what the answer must (not) hold.

    ``fill``/``click`` put the question through widgets instead of (or besides)
    the chat input; ``question`` then names it in the transcript."""

    question: str
    expect: tuple[Pattern, ...] = ()
    forbid: tuple[Pattern, ...] = ()
    non_answers: bool = True  # an answer that reads as an error or apology fails
    fill: tuple[tuple[str, str], ...] = ()  # (label, value) typed or picked
    click: str | None = None  # a button's label
    typed: str = ""  # the chat question, "" when asked through widgets only


def _check_url(value: str) -> str:
    stream_url(value)  # raises ValueError with the message for the user
    return value


# A pattern, or a list of them; each ``re:...`` compiled now, so a bad one fails the load.
PATTERNS = Array(
    Checked(Text(expected="a pattern"), Pattern.parse),
    single=True,
    expected="a pattern or a list of them",
)
QUESTIONS = Array(
    OneOf(
        Text(expected="a question"),
        Checked(
            Map(
                Optional("question", Text(), "What the user types into the chat input."),
                Optional("expect", PATTERNS, "Patterns the answer must hold.", default=[]),
                Optional("forbid", PATTERNS, "Patterns the answer must not hold.", default=[]),
                Optional("fill", widgets.FILL, widgets.FILL_HELP),
                Optional("click", Text(), "The label of a button or form submit button to press."),
                Optional(
                    "non_answers",
                    Scalar("boolean"),
                    "false: do not fail an answer that reads as an error or an apology.",
                    default=True,
                ),
            ),
            widgets.check_entry,
        ),
        expected="a question, or a mapping with question or fill/click, expect, forbid, "
        "non_answers",
    ),
    expected="a list of questions",
    hint='write ask: ["How do I ...?"] or a list of {question, expect, forbid}',
)


def _questions(entries: list[Any]) -> list[Question]:
    """The checked ``ask`` entries as ``Question`` values (a string is a bare question)."""
    found = []
    for entry in entries:
        if isinstance(entry, str):
            found.append(Question(entry.strip(), typed=entry.strip()))
            continue
        typed, fill = entry.get("question", "").strip(), tuple(entry.get("fill", {}).items())
        name = typed or widgets.describe(fill, entry.get("click"))
        checks = tuple(entry["expect"]), tuple(entry["forbid"])
        found.append(Question(name, *checks, entry["non_answers"], fill, entry.get("click"), typed))
    return found


@dataclass(frozen=True, kw_only=True)
class SessionInputs:
    url: str = param(
        "The app's URL, as a person opens it (a base path is kept: https://host/chat).",
        "string",
        required=True,
        check=_check_url,
    )
    ask: list[Question] = param(
        "Questions typed into the chat input, in order: a string, or a mapping with "
        "question, expect (patterns the answer must hold) and forbid (patterns it must "
        "not). Patterns are substrings, or regular expressions written re:...",
        QUESTIONS,
        default=[],
        check=_questions,
    )
    non_answers: list[Pattern] = param(
        "The app's own non-answers (e.g. its canned apology): an answer that holds one "
        "fails, as one that reads as an error or an apology does. Substrings, or re:...",
        PATTERNS,
        default=[],
    )
    expect_page: list[str] = param(
        "Patterns the page must show after the last answer (e.g. the release digest).",
        "string_list",
        default=[],
        check=check_patterns,
    )
    include_hidden: bool = param(
        "Let expect_page match text a person sees only after opening its container "
        "(a collapsed expander or status, a closed popover, an inactive tab, a sidebar "
        "set to start collapsed).",
        "boolean",
        default=False,
    )
    allow_errors: bool = param(
        "Pass even when the page shows an error alert (st.error).", "boolean", default=False
    )
    page: str | None = param(
        "The page of a multipage app to open, by its title in the nav or its URL path "
        "(a page path in url opens that page too).",
        "string",
    )
    placeholder: str | None = param(
        "Ask in the chat input with this placeholder (default: the only one).", "string"
    )
    key: str | None = param("Ask in the chat input with this widget key.", "string")
    headers: dict[str, str] | None = param(
        "Extra headers for the websocket handshake (e.g. a cookie an auth proxy wants).",
        "object",
    )


@dataclass(frozen=True, kw_only=True)
class SessionOutputs:
    streamlit_version: str | None = output(
        "The server's Streamlit version, as its session reported it (null in a dry run).",
        "string",
    )
    answers: list[dict[str, Any]] = output(
        "Per question: question, answer (the text as rendered), first_text_ms, total_ms.", "list"
    )
    exceptions: list[dict[str, str]] = output(
        "Exceptions shown on the page: type and message.", "list"
    )
    errors: list[str] = output("Error alerts (st.error) shown on the page, as text.", "string_list")
    page_text: str = output(
        "The text a person sees on the page after the last answer ('' in a dry run).", "string"
    )
    hidden_text: str = output(
        "Text on the page inside containers a person must open first ('' in a dry run).",
        "string",
    )


@dataclass
class Transcript:
    """What the synthetic user saw: the step's outputs and the report's transcript."""

    url: str
    version: str = ""
    load_ms: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    page: Page | None = None
    errors_only: set[int] = field(default_factory=set)  # answers checked with no expect

    def outputs(self) -> SessionOutputs:
        page = self.page or Page()
        return SessionOutputs(
            streamlit_version=self.version or None,
            answers=self.answers,
            exceptions=[{"type": e.type, "message": e.message} for e in page.exceptions()],
            errors=page.errors(),
            page_text=page.text(),
            hidden_text=page.hidden_text(),
        )

    def detail(self) -> str:
        lines = [f"Streamlit {self.version or '(unknown version)'} at {self.url}"]
        if self.load_ms is not None:
            lines.append(f"page loaded in {_seconds(self.load_ms)}")
        for index, answer in enumerate(self.answers):
            lines += ["", f"Q: {answer['question']}"]
            timing = f"done {_seconds(answer['total_ms'])}" if answer["total_ms"] else "unfinished"
            if answer["first_text_ms"] is not None:
                timing = f"first text {_seconds(answer['first_text_ms'])}, {timing}"
            lines.append(f"A ({timing}):")
            text = answer["answer"] or "(no text)"
            if len(text) > ANSWER_IN_DETAIL:
                text = text[:ANSWER_IN_DETAIL] + f"… ({len(answer['answer'])} chars)"
            lines += [f"  {line}" for line in text.splitlines()]
            if index in self.errors_only:
                lines.append("  (no expect: checked only for errors and non-answers)")
        page = self.page or Page()
        if page.exceptions():
            lines += ["", "Exceptions on the page:"]
            lines += [f"  {e}" for e in page.exceptions()]
        if page.errors():
            lines += ["", "Errors on the page:"]
            lines += [f"  {error}" for error in page.errors()]
        hidden = page.hidden_text()
        if hidden:
            if len(hidden) > ANSWER_IN_DETAIL:
                hidden = hidden[:ANSWER_IN_DETAIL] + f"… ({len(page.hidden_text())} chars)"
            lines += ["", "Hidden on the page (in containers a person must open first):"]
            lines += [f"  {line}" for line in hidden.splitlines()]
        return "\n".join(lines)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.2f} s"


def _quoted(question: str) -> str:
    return f'"{question}"' if len(question) <= 60 else f'"{question[:59]}…"'


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _chat_inputs(page: Page, inputs: SessionInputs) -> tuple[list[Node], str, str]:
    """The chat inputs the playbook names (by key and placeholder), all of them
    as the transcript lists them, and how the wanted one is named."""
    found = page.chat_inputs()
    shown = ", ".join(repr(n.element.chat_input.placeholder) for n in found) or "none"
    if inputs.key is not None:
        found = [n for n in found if n.element.chat_input.id.endswith(f"-{inputs.key}")]
    if inputs.placeholder is not None:
        found = [n for n in found if n.element.chat_input.placeholder == inputs.placeholder]
    wanted = []
    if inputs.key is not None:
        wanted.append(f"key {inputs.key!r}")
    if inputs.placeholder is not None:
        wanted.append(f"placeholder {inputs.placeholder!r}")
    which = f"chat input with {' and '.join(wanted)}" if wanted else "chat input"
    return found, shown, which


def _chat_input_named(node: Node) -> str:
    """A chat input as the playbook can name it: its placeholder, and its key if it has one."""
    chat = node.element.chat_input
    key = chat.id.rpartition("-")[2]  # Streamlit's ids end "-<key>", "-None" without one
    return f"placeholder {chat.placeholder!r}" + (
        f" (key {key!r})" if key not in ("", "None") else ""
    )


def _pick_chat_input(
    page: Page, inputs: SessionInputs, question: str, gone_after: str | None = None
) -> Node:
    """The chat input to ask ``question`` in.

    Nothing to type into is "could not check" (``StepError``) when the page had
    no such chat input to begin with: the app is not a chat, or the playbook
    names another one. A chat input that was there at load and is gone after the
    question ``gone_after`` is the app breaking down (``StepFailed``). Two that
    the playbook does not tell apart are its ambiguity (``StepError``)."""
    found, shown, which = _chat_inputs(page, inputs)
    if not found and gone_after is not None:
        said = status_texts(page)
        beside = f"; the page shows: {_excerpt(' '.join(said))}" if said else ""
        raise StepFailed(
            f"the {which} is gone after {gone_after}: no one can ask {_quoted(question)}{beside}"
        )
    if not found:  # nothing to type into: could not check, not a broken release
        raise StepError(f"no {which} on the page to ask {_quoted(question)} (chat inputs: {shown})")
    if len(found) > 1:
        listed = ", ".join(_chat_input_named(n) for n in found)
        raise StepError(
            f"{len(found)} chat inputs on the page ({listed}): "
            "name the one to ask in with placeholder or key"
        )
    chosen = found[0]
    if chosen.element.chat_input.disabled:
        said = status_texts(page)
        beside = f"; the page says: {_excerpt(' '.join(said))}" if said else ""
        raise StepFailed(
            f"the chat input {chosen.element.chat_input.placeholder!r} is disabled: "
            f"no one can ask {_quoted(question)}{beside}"
        )
    return chosen


def _judge_page(page: Page, inputs: SessionInputs, when: str) -> str | None:
    """Why the page as it stands fails, or ``None``."""
    exceptions = page.exceptions()
    if exceptions:
        more = f" (and {len(exceptions) - 1} more)" if len(exceptions) > 1 else ""
        return f"{when}: the page shows an exception: {exceptions[0]}{more}"
    errors = page.errors()
    if errors and not inputs.allow_errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{when}: the page shows an error: {' '.join(errors[0].split())}{more}"
    return None


def _judge_expect_page(page: Page, inputs: SessionInputs) -> str | None:
    """Why the page fails ``expect_page``: only what a person sees counts, unless
    ``include_hidden`` lets text in unopened containers count too."""
    seen, hidden = page.text(), page.hidden_text()
    searched = f"{seen}\n{hidden}" if inputs.include_hidden else seen
    for pattern in parse_patterns(inputs.expect_page):
        if pattern.matches(searched):
            continue
        line = next((ln for ln in hidden.splitlines() if pattern.matches(ln)), None)
        if line is not None:
            return (
                f"the page lacks {pattern.text!r} where a person sees it: it is only in a "
                f"container they must open first ({_excerpt(line)}; include_hidden: true "
                "matches it there)"
            )
        return f"the page lacks {pattern.text!r}: {_excerpt(seen)}"
    return None


def _judge_answer(
    question: Question, outcome: RunOutcome, app_non_answers: list[Pattern]
) -> str | None:
    answer = outcome.answer
    if is_placeholder(answer):  # no words, or only "Thinking..." where the answer goes
        only = f" (only {_excerpt(answer)})" if answer.strip() else ""
        if outcome.elsewhere:
            return (
                f"{_quoted(question.question)}: no answer{only}; the page shows instead: "
                f"{_excerpt(' '.join(outcome.elsewhere))}"
            )
        if only:
            return f"{_quoted(question.question)}: no answer{only}: the run finished"
        return (
            f"{_quoted(question.question)}: no answer: the run finished and the page "
            "shows nothing new"
        )
    if question.non_answers:
        for pattern in app_non_answers:
            if pattern.matches(answer):
                return (
                    f"{_quoted(question.question)}: the answer is one of the app's "
                    f"non-answers ({pattern.text!r}): {_excerpt(answer)}"
                )
        found = non_answer(answer)
        if found is not None:
            return (
                f"{_quoted(question.question)}: the answer reads as {found.kind}, "
                f"not an answer: {_excerpt(found.line)}"
            )
    for pattern in question.expect:
        if not pattern.matches(answer):
            return (
                f"{_quoted(question.question)}: the answer lacks {pattern.text!r}: "
                f"{_excerpt(answer)}"
            )
    for pattern in question.forbid:
        if pattern.matches(answer):
            line = next((ln for ln in answer.splitlines() if pattern.matches(ln)), answer)
            return f"{_quoted(question.question)}: the answer holds {pattern.text!r}: " + (
                _excerpt(line)
            )
    return None


class _LiveAnswer:
    """The live view of a streaming answer: its newest words, at most every LIVE_EVERY."""

    def __init__(self, ctx: StepContext, question: str):
        self.ctx, self.question, self.shown_at = ctx, question, 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.shown_at < LIVE_EVERY:
            return
        self.shown_at = now
        flat = " ".join(text.split())
        tail = flat if len(flat) <= 90 else "…" + flat[-89:]
        self.ctx.emit("progress", f"{_quoted(self.question)} ← {tail}", chars=len(text))


def run(ctx: StepContext, inputs: SessionInputs) -> StepResult:
    transcript = Transcript(inputs.url)
    deadline = ctx.deadline
    if deadline.at is None:
        deadline = Deadline.after(ctx.clock, DEFAULT_TIMEOUT)
    started = ctx.clock.monotonic()
    asking: str | None = None  # the question waited for, for a timeout's message

    def fail(summary: str, kind: type[StepProblem] = StepFailed) -> StepProblem:
        return kind(summary, detail=transcript.detail(), outputs=transcript.outputs())

    try:
        with StreamlitSession(
            inputs.url, deadline, ctx.cancel, headers=dict(inputs.headers or {})
        ) as session:
            transcript.page = session.page
            loaded = session.load()
            transcript.version, transcript.load_ms = session.streamlit_version, loaded.duration_ms
            ctx.emit(
                "info",
                f"Streamlit {session.streamlit_version or '(unknown version)'}: page loaded "
                f"in {_seconds(loaded.duration_ms)}",
            )
            if inputs.page is not None and session.open_page(inputs.page) is not None:
                ctx.emit("info", f"opened the page {inputs.page!r}")
            problem = _judge_page(session.page, inputs, "before any question")
            if problem:
                raise fail(problem)
            chat_at_load = bool(_chat_inputs(session.page, inputs)[0])
            gone_after: str | None = None  # the last question, once a chat input was there
            for question in inputs.ask:
                values = widgets.values(
                    session.page, dict(question.fill), question.click, session.streamlit_version
                )
                live = _LiveAnswer(ctx, question.question)
                asking = question.question
                if question.typed:
                    chat_input = _pick_chat_input(session.page, inputs, question.typed, gone_after)
                    outcome = session.ask(question.typed, chat_input, on_text=live, widgets=values)
                else:
                    filled = [value for _, value in question.fill]  # a click types nothing
                    outcome = session.submit(filled, values, on_text=live)
                asking = None
                if chat_at_load:
                    number = len(transcript.answers) + 1
                    gone_after = f"question {number} ({_quoted(question.question)})"
                _record(ctx, transcript, question.question, outcome)
                if not question.expect:
                    transcript.errors_only.add(len(transcript.answers) - 1)
                problem = _judge_page(session.page, inputs, _quoted(question.question))
                problem = problem or _judge_answer(question, outcome, inputs.non_answers)
                if problem:
                    raise fail(problem)
            problem = _judge_expect_page(session.page, inputs)
            if problem:
                raise fail(problem)
    except (SessionUnavailable, widgets.NotOnPage) as err:
        raise fail(str(err), StepError) from None
    except (PageMissing, widgets.Refused) as err:
        raise fail(str(err)) from None
    except RunTimeout:
        waited = format_duration(ctx.clock.monotonic() - started)
        if asking is None:
            raise fail(
                f"timed out after {waited}: the page did not finish loading", StepTimeout
            ) from None
        partial = session.current_run
        if partial is not None:
            _record(ctx, transcript, asking, partial)
        chars = len(partial.answer) if partial is not None else 0
        raise fail(
            f"timed out after {waited} waiting for the answer to {_quoted(asking)} "
            f"(the script was still running; {chars} chars of answer so far)",
            StepTimeout,
        ) from None
    except StepProblem as err:
        if not err.detail:
            raise fail(err.summary, type(err)) from None
        raise
    return StepResult("ok", _summary(transcript, inputs), transcript.outputs(), transcript.detail())


def _record(ctx: StepContext, transcript: Transcript, question: str, outcome: RunOutcome) -> None:
    finished = outcome.status >= 0
    transcript.answers.append(
        {
            "question": question,
            "answer": outcome.answer,
            "first_text_ms": _ms(outcome.first_text_ms),
            "total_ms": _ms(outcome.duration_ms) if finished else None,
        }
    )
    ctx.emit("info", f"Q: {question}")
    first = ""
    if outcome.first_text_ms is not None:
        first = f", first text {_seconds(outcome.first_text_ms)}"
    when = f"in {_seconds(outcome.duration_ms)}" if finished else "unfinished"
    ctx.emit("info", f"A: {len(outcome.answer)} chars {when}{first}: {_excerpt(outcome.answer)}")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summary(transcript: Transcript, inputs: SessionInputs) -> str:
    page = transcript.page or Page()
    errors = page.errors()
    verdict = "no exception, " + (
        f"{len(errors)} error(s) allowed: {' '.join(errors[0].split())}" if errors else "no error"
    )
    if inputs.expect_page:
        verdict += "; the page shows " + ", ".join(repr(p) for p in inputs.expect_page)
    answers = transcript.answers
    if not answers:
        return f"page loaded in {_seconds(transcript.load_ms or 0)}; {verdict}"
    chars = sum(len(a["answer"]) for a in answers)
    total = sum(a["total_ms"] or 0 for a in answers)
    firsts = [a["first_text_ms"] for a in answers if a["first_text_ms"] is not None]
    noun = "question" if len(answers) == 1 else "questions"
    first = ""
    if firsts:
        label = "first text" if len(answers) == 1 else "slowest first text"
        first = f" ({label} {_seconds(max(firsts))})"
    return f"asked {len(answers)} {noun}: {chars} chars in {_seconds(total)}{first}; {verdict}"


def plan(ctx: StepContext, inputs: SessionInputs) -> StepResult:
    """Say what would be asked; send nothing (a real model's answer costs money)."""
    parts = [f"would open a session on {stream_url(inputs.url)}"]
    if inputs.page is not None:
        parts.append(f"open the page {inputs.page!r}")
    for question in inputs.ask:
        checks = [f"expect {p.text!r}" for p in question.expect]
        checks += [f"forbid {p.text!r}" for p in question.forbid]
        parts.append(
            f"ask {_quoted(question.question)}" + (f" ({', '.join(checks)})" if checks else "")
        )
    if inputs.expect_page:
        parts.append("expect the page to show " + ", ".join(repr(p) for p in inputs.expect_page))
    outputs = SessionOutputs(
        streamlit_version=None,
        answers=[],
        exceptions=[],
        errors=[],
        page_text="",
        hidden_text="",
    )
    return StepResult("ok", "; ".join(parts) + " (dry run: nothing sent)", outputs)


PERMISSIONS = NO_AWS  # a websocket to the app only


STEP = StepType(
    name="streamlit.session",
    summary="A synthetic user: open the app over its websocket, ask questions, judge the page.",
    inputs=SessionInputs,
    outputs=SessionOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
)
