"""``confirm``: a person says yes before the risky part of a runbook.

A rollback or a migration run by hand should stop for a yes from someone who
read what happens next; the same playbook in CI goes on only with ``--yes``,
which says so in the report. The step never guesses: with nobody to ask (no
terminal, a fleet) it fails (``Runner._answer`` holds that rule; the delete
guards of ``s3.sync``/``s3.restore`` keep theirs). A "no" fails the step, so the
run stops as at any failure and ``on_failure`` runs: its steps are read-only
diagnostics, and one that should not run after a "no" says
``when: steps.ID.outputs.answer != 'no'``. The report records the answer, who
gave it and when.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opskit.clock import utc_iso
from opskit.errors import StepFailed
from opskit.iam.needs import NO_AWS
from opskit.model import Answer
from opskit.steps.base import StepContext, StepResult, StepType, output, param


@dataclass(frozen=True, kw_only=True)
class ConfirmInputs:
    question: str = param("the yes-or-no question a person answers", "string", required=True)
    then: str | None = param(
        "what happens next if the answer is yes, shown with the question", "string"
    )
    no: str = param(
        "what the run says when the answer is no",
        "string",
        default="not confirmed: the run stops here",
    )


@dataclass(frozen=True, kw_only=True)
class ConfirmOutputs:
    answer: str | None = output('"yes" or "no"', "string")
    by: str | None = output(
        "who answered: the user at the terminal, or --yes with GITHUB_ACTOR or the OS user",
        "string",
    )
    at: str | None = output("when the answer was given, ISO 8601 UTC", "string")


def asked(inputs: ConfirmInputs) -> str:
    """The question as the person sees it: with what happens next if yes."""
    if not inputs.then:
        return inputs.question
    return f"{inputs.question}\n  If yes: {inputs.then}"


def _run(ctx: StepContext, inputs: ConfirmInputs) -> StepResult:
    try:
        answer = ctx.ask(asked(inputs))
    except StepFailed as err:  # nobody to ask, no answer: every output named, none known
        unknown = ConfirmOutputs(answer=None, by=None, at=None)
        raise StepFailed(err.summary, detail=asked(inputs), outputs=unknown) from None
    word = "yes" if answer.yes else "no"
    outputs = ConfirmOutputs(answer=word, by=answer.by, at=utc_iso(answer.at))
    ctx.emit("mark", f"confirm: {word}", at=answer.at, what="confirm")
    said = f"{word}, answered by {answer.by} at {_clock(answer)} UTC"
    if not answer.yes:
        raise StepFailed(f"{said}: {inputs.no}", detail=asked(inputs), outputs=outputs)
    return StepResult("ok", said, outputs, detail=asked(inputs))


def _plan(ctx: StepContext, inputs: ConfirmInputs) -> StepResult:
    then = f" (if yes: {inputs.then})" if inputs.then else ""
    return StepResult(
        "ok",
        f"would ask: {inputs.question}{then}",
        ConfirmOutputs(answer=None, by=None, at=None),
    )


def _clock(answer: Answer) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(answer.at))


PERMISSIONS = NO_AWS  # it asks a person only

STEP = StepType(
    name="confirm",
    summary="Ask a person yes or no before what comes next; --yes answers yes, nobody to ask fails",
    inputs=ConfirmInputs,
    outputs=ConfirmOutputs,
    run=_run,
    plan=_plan,
    permissions=PERMISSIONS,
)
