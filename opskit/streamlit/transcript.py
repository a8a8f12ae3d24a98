"""The transcript of a synthetic user's session: what it asked, what came back,
and what the page showed, as the step's detail and summary print it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opskit.streamlit.page import Page
from opskit.streamlit.verdicts import seconds

ANSWER_IN_DETAIL = 4000  # characters of each answer kept in the transcript


@dataclass
class Transcript:
    """What the synthetic user saw, kept for the report's transcript and the summary
    (the step builds its outputs from it too)."""

    url: str
    version: str = ""
    load_ms: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    page: Page | None = None
    errors_only: set[int] = field(default_factory=set)  # answers checked with no expect

    def detail(self) -> str:
        lines = [f"Streamlit {self.version or '(unknown version)'} at {self.url}"]
        if self.load_ms is not None:
            lines.append(f"page loaded in {seconds(self.load_ms)}")
        for index, answer in enumerate(self.answers):
            lines += ["", f"Q: {answer['question']}"]
            timing = f"done {seconds(answer['total_ms'])}" if answer["total_ms"] else "unfinished"
            if answer["first_text_ms"] is not None:
                timing = f"first text {seconds(answer['first_text_ms'])}, {timing}"
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

    def summary(self, expect_page: list[str]) -> str:
        """The step's one line: how much was asked and answered, and what the page shows."""
        page = self.page or Page()
        errors = page.errors()
        verdict = "no exception, " + (
            f"{len(errors)} error(s) allowed: {' '.join(errors[0].split())}"
            if errors
            else "no error"
        )
        if expect_page:
            verdict += "; the page shows " + ", ".join(repr(p) for p in expect_page)
        answers = self.answers
        if not answers:
            return f"page loaded in {seconds(self.load_ms or 0)}; {verdict}"
        chars = sum(len(a["answer"]) for a in answers)
        total = sum(a["total_ms"] or 0 for a in answers)
        firsts = [a["first_text_ms"] for a in answers if a["first_text_ms"] is not None]
        noun = "question" if len(answers) == 1 else "questions"
        first = ""
        if firsts:
            label = "first text" if len(answers) == 1 else "slowest first text"
            first = f" ({label} {seconds(max(firsts))})"
        return f"asked {len(answers)} {noun}: {chars} chars in {seconds(total)}{first}; {verdict}"
