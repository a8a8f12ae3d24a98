"""Who answers a run's questions: one rule for the delete guards and one for
``confirm`` steps, both read from ``RunOptions`` (``--yes``, the person at the
terminal, or nobody)."""

from __future__ import annotations

import threading

from opskit.clock import Clock
from opskit.errors import Cancelled, StepFailed
from opskit.model import Answer, RunOptions

__all__ = ["answer", "confirm"]


def confirm(options: RunOptions, prompt: str) -> bool:
    """A delete guard's question: without a terminal (CI) the guards apply and the
    run goes on."""
    if options.yes or options.ask is None:
        return True
    return options.ask(prompt)


def answer(options: RunOptions, clock: Clock, question: str, cancel: threading.Event) -> Answer:
    """A confirm step's question, unlike a delete guard's, is never taken as yes by
    default: --yes answers yes; otherwise the person at the terminal; with nobody
    to ask (no terminal, a fleet) the step fails rather than guess."""
    if options.yes:
        return Answer(True, options.answer_by or "--yes", clock.time())
    if options.person is None:
        raise StepFailed(f"nobody to ask ({options.nobody}): run with --yes to answer yes")
    reply = options.person(question, cancel)
    if cancel.is_set():
        raise Cancelled("interrupted while waiting for an answer")
    if reply is None:
        raise StepFailed("no answer (end of input): run with --yes to answer yes")
    return Answer(reply, options.answer_by or "the terminal", clock.time())
