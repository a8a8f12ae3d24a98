"""The exception vocabulary shared by every module.

One boundary (``opskit.cli``) turns these into exit codes, so library code
raises them and never calls ``sys.exit``.
"""

from __future__ import annotations

from typing import Literal

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


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


class StepFailed(OpskitError):
    """A check said no (the release is not what it should be). Exit 1.

    ``summary`` is the one line; ``detail`` the multi-line evidence that goes into
    reports (stopped reasons, log context, mismatching keys); ``outputs`` whatever
    the step learned before failing, so later ``on_failure`` steps can use it.
    """

    status: Literal["failed", "error"] = "failed"

    def __init__(self, summary: str, *, detail: str = "", outputs: dict | None = None):
        self.summary = summary
        self.detail = detail
        self.outputs = dict(outputs or {})
        super().__init__(summary)


class StepError(StepFailed):
    """The step could not measure (AWS error, permission, network). Exit 1.

    Kept apart from ``StepFailed`` as Argo Rollouts keeps Error apart from Failed:
    an on-call engineer acts differently on "the check said no" and "the check
    could not run".
    """

    status = "error"


class StepTimeout(StepFailed):
    """The step's deadline passed; ``summary`` carries the last known state."""


class Cancelled(OpskitError):
    """The run was interrupted (Ctrl-C) while a step was waiting. Exit 130."""

    exit_code = EXIT_INTERRUPTED
