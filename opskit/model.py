"""The run's model: the options a run takes and the record it leaves.

The runner writes these; the reporters (Markdown, JUnit, JSON) and the CLI read
them. A run's exit code is derived from its status here, in one place, so the
runner decides *what happened* and never an exit number.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from opskit.clock import Clock
from opskit.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STEP_FAILED,
    EXIT_TERMINATED,
)

# ok/changed/skipped: the step did its job; failed: the check said no;
# error: it could not check (STYLE.md's vocabulary, after Argo Rollouts).
StepStatus = Literal["ok", "changed", "skipped", "failed", "error"]
Phase = Literal["main", "on_failure"]
# passed; failed: a step failed; error: the run could not run (sandbox, AWS);
# invalid: bad input (playbook, template, vars); interrupted: Ctrl-C or SIGTERM;
# skipped: a fleet's target that never started (canary failed, failure budget spent).
RunStatus = Literal["passed", "skipped", "failed", "error", "invalid", "interrupted"]

EXIT_CODES: Mapping[RunStatus, int] = {
    "passed": EXIT_OK,
    "skipped": EXIT_OK,
    "failed": EXIT_STEP_FAILED,
    "error": EXIT_STEP_FAILED,
    "invalid": EXIT_BAD_INPUT,
    "interrupted": EXIT_INTERRUPTED,
}


# The person at the terminal, asked a confirm step's question (with the run's
# cancel event, so Ctrl-C or a timeout ends the wait): True yes, False no,
# None no answer (end of input).
Prompt = Callable[[str, threading.Event], "bool | None"]


@dataclass(frozen=True)
class Answer:
    """A confirm step's answer: yes or no, who gave it and when (epoch seconds)."""

    yes: bool
    by: str
    at: float


@dataclass
class RunOptions:
    target: str | None = None
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    vars_files: tuple[Path, ...] = ()
    dry_run: bool = False
    from_step: str | None = None
    only: tuple[str, ...] = ()
    yes: bool = False
    ask: Callable[[str], bool] | None = None  # set only when a person can answer
    # A confirm step's answerer (Runner._answer holds the rule): the person at the
    # terminal, or None with nobody to ask (no terminal, a fleet), said as `nobody`.
    person: Prompt | None = None
    nobody: str = "no terminal"
    answer_by: str = ""  # who answers: the terminal's user, or "--yes (GITHUB_ACTOR x)"
    debug: bool = False
    clock: Clock = field(default_factory=Clock)
    handle_sigint: bool = True
    sandbox_app_port: int | None = None


# What a step type's ``finish`` said in the run's last phase: ``warning`` (a
# deployment left paused or rolled back, a verdict not recorded) or ``info``.
NoteKind = Literal["info", "warning"]


@dataclass(frozen=True)
class FinishNote:
    """One line a step's ``finish`` hook said at the run's end (it may quote
    outside text: an ARN, an error): the reports show it with the step."""

    kind: NoteKind
    message: str


@dataclass
class StepRecord:
    id: str
    uses: str
    title: str
    phase: Phase
    status: StepStatus = "skipped"
    summary: str = ""
    detail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    duration: float = 0.0
    attempts: int = 0
    continue_on_error: bool = False
    selected: bool = True  # False: left out by --from/--only
    # What its type's ``finish`` said after every step (reports before them: none).
    finish_notes: list[FinishNote] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "error")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        fields = dict(data)
        fields["finish_notes"] = [FinishNote(**n) for n in data.get("finish_notes") or []]
        return cls(**fields)


@dataclass(frozen=True)
class Identity:
    """Who a run acts as: the caller identity of its target's credentials
    (``sts:GetCallerIdentity``), the region, and where the credentials came from
    (e.g. "the environment (AWS_ACCESS_KEY_ID)")."""

    account: str
    arn: str
    region: str | None
    credentials: str

    def describe(self) -> str:
        """The run's identity line, as the terminal and the reports show it."""
        where = f" in {self.region}" if self.region else " (no region)"
        return (
            f"acting as {self.arn} (account {self.account}){where}; "
            f"credentials from {self.credentials}"
        )


@dataclass
class RunResult:
    playbook: str
    name: str
    target: str
    dry_run: bool
    run_id: str
    started_at: float
    duration: float = 0.0
    status: RunStatus = "passed"
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    on_failure: list[StepRecord] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    identity: Identity | None = None  # None: the run asked none (it makes no AWS call)
    # What the run's start warned about (whose credentials it uses), for the reports.
    warnings: list[str] = field(default_factory=list)
    # The first signal that stopped the run ("SIGINT", "SIGTERM"); None: no signal.
    signal: str | None = None
    # The run's timeline, sorted by time: each step's start and end, a failure where
    # it happened, and the marks steps emitted (``events.timeline_entry`` dicts).
    # Reports written before it existed load with none.
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted" and self.signal == "SIGTERM":
            return EXIT_TERMINATED  # 143, what CI systems and `kill` expect of SIGTERM
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        """The inverse of ``as_dict`` (reports are redacted as data, then read back)."""
        fields = {k: v for k, v in data.items() if k != "exit_code"}
        fields["steps"] = [StepRecord.from_dict(s) for s in data.get("steps", [])]
        fields["on_failure"] = [StepRecord.from_dict(s) for s in data.get("on_failure", [])]
        identity = data.get("identity")
        fields["identity"] = Identity(**identity) if identity else None
        return cls(**fields)

    @property
    def failed_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.failed and not s.continue_on_error), None)


# Least to most severe: a fleet is as bad as its worst target, and the exit
# codes never decrease along this order (0, 0, 1, 1, 2, 130).
SEVERITY: tuple[RunStatus, ...] = ("passed", "skipped", "failed", "error", "invalid", "interrupted")


def worst_status(statuses: Iterable[RunStatus]) -> RunStatus:
    return max(statuses, key=SEVERITY.index, default="passed")


@dataclass
class FleetResult:
    """Every target's run of one playbook: one process's fleet, or a CI matrix's
    jobs merged (``opskit report merge``). Its status is the worst target's."""

    playbook: str
    name: str
    runs: list[RunResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def status(self) -> RunStatus:
        return worst_status(run.status for run in self.runs)

    @property
    def exit_code(self) -> int:
        """The worst target's (143 when a target of that status was stopped by SIGTERM)."""
        status = self.status
        return max(
            (r.exit_code for r in self.runs if r.status == status), default=EXIT_CODES[status]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "fleet",
            "playbook": self.playbook,
            "name": self.name,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration": self.duration,
            "targets": [run.as_dict() for run in self.runs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetResult:
        return cls(
            playbook=str(data["playbook"]),
            name=str(data["name"]),
            runs=[RunResult.from_dict(run) for run in data["targets"]],
            duration=float(data.get("duration") or 0.0),
        )
