"""What the synthetic user judges, and how it says so: the chat input to type
into, the page, the answer, and the quoting that every verdict shares.

``NotOnPage`` (could not check) and ``Refused`` (the page tells a person no) are
the two ways a page can stop a question; the step turns them into ``error`` and
``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.logs.patterns import Pattern, parse_patterns
from opskit.streamlit.answer import is_placeholder, status_texts
from opskit.streamlit.nonanswers import non_answer
from opskit.streamlit.page import Node, Page
from opskit.streamlit.session import RunOutcome
from opskit.streamlit.widgets import NotOnPage, Refused


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


def seconds(ms: float) -> str:
    return f"{ms / 1000:.2f} s"


def quoted(question: str) -> str:
    return f'"{question}"' if len(question) <= 60 else f'"{question[:59]}…"'


def excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def chat_inputs(
    page: Page, key: str | None, placeholder: str | None
) -> tuple[list[Node], str, str]:
    """The chat inputs the playbook names (by key and placeholder), all of them
    as the transcript lists them, and how the wanted one is named."""
    found = page.chat_inputs()
    shown = ", ".join(repr(n.element.chat_input.placeholder) for n in found) or "none"
    if key is not None:
        found = [n for n in found if n.element.chat_input.id.endswith(f"-{key}")]
    if placeholder is not None:
        found = [n for n in found if n.element.chat_input.placeholder == placeholder]
    wanted = []
    if key is not None:
        wanted.append(f"key {key!r}")
    if placeholder is not None:
        wanted.append(f"placeholder {placeholder!r}")
    which = f"chat input with {' and '.join(wanted)}" if wanted else "chat input"
    return found, shown, which


def _chat_input_named(node: Node) -> str:
    """A chat input as the playbook can name it: its placeholder, and its key if it has one."""
    chat = node.element.chat_input
    key = chat.id.rpartition("-")[2]  # Streamlit's ids end "-<key>", "-None" without one
    return f"placeholder {chat.placeholder!r}" + (
        f" (key {key!r})" if key not in ("", "None") else ""
    )


def pick_chat_input(
    page: Page,
    question: str,
    *,
    key: str | None = None,
    placeholder: str | None = None,
    gone_after: str | None = None,
) -> Node:
    """The chat input to ask ``question`` in.

    Nothing to type into is "could not check" (``NotOnPage``) when the page had
    no such chat input to begin with: the app is not a chat, or the playbook
    names another one. A chat input that was there at load and is gone after the
    question ``gone_after`` is the app breaking down (``Refused``). Two that
    the playbook does not tell apart are its ambiguity (``NotOnPage``)."""
    found, shown, which = chat_inputs(page, key, placeholder)
    if not found and gone_after is not None:
        said = status_texts(page)
        beside = f"; the page shows: {excerpt(' '.join(said))}" if said else ""
        raise Refused(
            f"the {which} is gone after {gone_after}: no one can ask {quoted(question)}{beside}"
        )
    if not found:  # nothing to type into: could not check, not a broken release
        raise NotOnPage(f"no {which} on the page to ask {quoted(question)} (chat inputs: {shown})")
    if len(found) > 1:
        listed = ", ".join(_chat_input_named(n) for n in found)
        raise NotOnPage(
            f"{len(found)} chat inputs on the page ({listed}): "
            "name the one to ask in with placeholder or key"
        )
    chosen = found[0]
    if chosen.element.chat_input.disabled:
        said = status_texts(page)
        beside = f"; the page says: {excerpt(' '.join(said))}" if said else ""
        raise Refused(
            f"the chat input {chosen.element.chat_input.placeholder!r} is disabled: "
            f"no one can ask {quoted(question)}{beside}"
        )
    return chosen


def judge_page(page: Page, when: str, *, allow_errors: bool = False) -> str | None:
    """Why the page as it stands fails, or ``None``."""
    exceptions = page.exceptions()
    if exceptions:
        more = f" (and {len(exceptions) - 1} more)" if len(exceptions) > 1 else ""
        return f"{when}: the page shows an exception: {exceptions[0]}{more}"
    errors = page.errors()
    if errors and not allow_errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{when}: the page shows an error: {' '.join(errors[0].split())}{more}"
    return None


def judge_expect_page(
    page: Page, expect_page: list[str], *, include_hidden: bool = False
) -> str | None:
    """Why the page fails ``expect_page``: only what a person sees counts, unless
    ``include_hidden`` lets text in unopened containers count too."""
    seen, hidden = page.text(), page.hidden_text()
    searched = f"{seen}\n{hidden}" if include_hidden else seen
    for pattern in parse_patterns(expect_page):
        if pattern.matches(searched):
            continue
        line = next((ln for ln in hidden.splitlines() if pattern.matches(ln)), None)
        if line is not None:
            return (
                f"the page lacks {pattern.text!r} where a person sees it: it is only in a "
                f"container they must open first ({excerpt(line)}; include_hidden: true "
                "matches it there)"
            )
        return f"the page lacks {pattern.text!r}: {excerpt(seen)}"
    return None


def judge_answer(
    question: Question, outcome: RunOutcome, app_non_answers: list[Pattern]
) -> str | None:
    answer = outcome.answer
    if is_placeholder(answer):  # no words, or only "Thinking..." where the answer goes
        only = f" (only {excerpt(answer)})" if answer.strip() else ""
        if outcome.elsewhere:
            return (
                f"{quoted(question.question)}: no answer{only}; the page shows instead: "
                f"{excerpt(' '.join(outcome.elsewhere))}"
            )
        if only:
            return f"{quoted(question.question)}: no answer{only}: the run finished"
        return (
            f"{quoted(question.question)}: no answer: the run finished and the page "
            "shows nothing new"
        )
    if question.non_answers:
        for pattern in app_non_answers:
            if pattern.matches(answer):
                return (
                    f"{quoted(question.question)}: the answer is one of the app's "
                    f"non-answers ({pattern.text!r}): {excerpt(answer)}"
                )
        found = non_answer(answer)
        if found is not None:
            return (
                f"{quoted(question.question)}: the answer reads as {found.kind}, "
                f"not an answer: {excerpt(found.line)}"
            )
    for pattern in question.expect:
        if not pattern.matches(answer):
            return (
                f"{quoted(question.question)}: the answer lacks {pattern.text!r}: {excerpt(answer)}"
            )
    for pattern in question.forbid:
        if pattern.matches(answer):
            line = next((ln for ln in answer.splitlines() if pattern.matches(ln)), answer)
            return f"{quoted(question.question)}: the answer holds {pattern.text!r}: " + (
                excerpt(line)
            )
    return None
