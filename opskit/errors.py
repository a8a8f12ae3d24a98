"""The exception vocabulary shared by every module.

One boundary (``opskit.cli``) turns these into exit codes, so library code
raises them and never calls ``sys.exit``.
"""

from __future__ import annotations

from typing import Any, Literal

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a job Ctrl-C stopped
EXIT_TERMINATED = 143  # 128 + SIGTERM: a run stopped by SIGTERM (a CI cancel, `kill`)


class OpskitError(Exception):
    """Base class; ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_STEP_FAILED


class InputError(OpskitError):
    """The user's input is wrong: playbook, template, CLI usage, vars file. Exit 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        super().__init__(self.located())

    def located(self) -> str:
        if self.source and self.line:
            return f"{self.source}:{self.line}: {self.message}"
        if self.source:
            return f"{self.source}: {self.message}"
        return self.message


class StepProblem(OpskitError):
    """What a step raises when it does not pass; never raised itself, only its three
    kinds, which a report and an on-call engineer treat differently.

    ``summary`` is the one line; ``detail`` the multi-line evidence that goes into
    reports (stopped reasons, log context, mismatching keys); ``outputs`` the
    step's declared outputs as far as it learned them before it stopped (an
    instance of its outputs dataclass, or ``None``), so ``on_failure`` steps can
    use them.
    """

    status: Literal["failed", "error"] = "failed"

    def __init__(self, summary: str, *, detail: str = "", outputs: Any = None):
        self.summary = summary
        self.detail = detail
        self.outputs = outputs
        super().__init__(summary)


class StepFailed(StepProblem):
    """A check said no: the release is not what it should be. Exit 1."""


class StepError(StepProblem):
    """The step could not check (AWS error, permission, network). Exit 1.

    Kept apart from ``StepFailed`` as Argo Rollouts keeps Error apart from Failed:
    an on-call engineer acts differently on "the check said no" and "the check
    could not run".
    """

    status = "error"


class StepTimeout(StepProblem):
    """The step ran out of time before it could say yes or no; ``summary`` carries
    the last known state. Reported as failed: a release that did not prove itself
    within its time is not live."""


class Cancelled(OpskitError):
    """The run was interrupted (Ctrl-C) while a step was waiting. Exit 130."""

    exit_code = EXIT_INTERRUPTED
