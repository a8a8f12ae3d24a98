"""``note``: instructions for the person running a runbook.

Diagnose and rollback runbooks tell on-call what to look at next; a note puts
that text where they already look: a block in the live view (an ``info`` event
with ``note`` set, so JSON lines carry it too) and the step's detail in the
report. Its text may hold templated vars, so every view shows it as outside
text (terminal: ``opskit.outside``; Markdown: ``mdtext``). It never fails and
changes nothing, so it runs as itself under ``--dry-run``.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.clock import utc_iso
from opskit.iam.needs import NO_AWS
from opskit.steps.base import StepContext, StepResult, StepType, output, param

SUMMARY_CHARS = 100  # the step's one line: the note's first line, cut here


@dataclass(frozen=True, kw_only=True)
class NoteInputs:
    text: str = param(
        "the instructions to show (plain text; vars may be templated)", "string", required=True
    )


@dataclass(frozen=True, kw_only=True)
class NoteOutputs:
    at: str | None = output("when the note was shown, ISO 8601 UTC", "string")


def _run(ctx: StepContext, inputs: NoteInputs) -> StepResult:
    now = ctx.clock.time()
    text = inputs.text.strip("\n")
    ctx.emit("info", text, note=True)
    first = text.splitlines()[0] if text.strip() else ""
    ctx.emit("mark", "note", at=now, what="note")
    if len(first) > SUMMARY_CHARS:
        first = first[: SUMMARY_CHARS - 1] + "…"
    return StepResult("ok", f"note: {first}", NoteOutputs(at=utc_iso(now)), detail=text)


PERMISSIONS = NO_AWS  # it shows text only

STEP = StepType(
    name="note",
    summary="Show instructions for the person running the runbook, in the live view and the report",
    inputs=NoteInputs,
    outputs=NoteOutputs,
    run=_run,
    read_only=True,
    permissions=PERMISSIONS,
)
