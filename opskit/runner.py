"""Run a playbook: steps in order, each in a worker thread the runner can abandon.

The runner owns ``when``, ``timeout``, ``retries``, ``continue_on_error``,
``on_failure``, ``--from``/``--only``, ``--dry-run`` and Ctrl-C. Steps know none
of that: they get a ``StepContext`` with a deadline and a cancel event. What a
run knows before its first step (the sandbox, the vars, the target's AWS
access) comes from ``opskit.start``, which ``opskit iam`` shares.

Ctrl-C and SIGTERM (a CI cancel sends SIGINT, then SIGTERM, then SIGKILL; ``kill``
and container runtimes SIGTERM alone) are the same request: the first sets the
running step's cancel event (a wait loop stops at once and records its state),
skips the remaining steps, runs ``on_failure`` diagnostics and the steps'
``finish`` (``s3.sync`` records the verdict ``interrupted``); a second raises
``KeyboardInterrupt`` and the run ends at once. Either way the run's sandbox
stops, the caller writes the report and exits 130 (143 when SIGTERM came first).
Inside ``opskit.api`` one handler spans the run and its report
(``watchdog.routed_signals``): a signal after the steps (the sandbox stopping,
``run_end`` announced) or while the report is written is noted, not obeyed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from opskit import asking, start, templating
from opskit import context as ctxmod
from opskit.aws import AwsAccess
from opskit.clock import Deadline
from opskit.errors import (
    Cancelled,
    InputError,
    OpskitError,
    StepProblem,
    StepTimeout,
)
from opskit.events import EventBus
from opskit.marks import RunMarks
from opskit.model import FinishNote, Phase, RunOptions, RunResult, RunStatus, StepRecord
from opskit.playbook import Playbook, Step
from opskit.steps.base import RunEnd, StepContext, StepResult, StepType, UndeclaredOutputs
from opskit.watchdog import (
    Abandoned,
    emit_soon,
    on_signals,
    run_watched,
    signal_name,
    stop_words,
)

__all__ = ["Runner"]

# How long a step may overrun its own deadline before the runner stops waiting
# for it: wait loops honour the deadline themselves; this catches a blocking call.
TIMEOUT_GRACE = 5.0


class Runner:
    def __init__(self, playbook: Playbook, options: RunOptions, bus: EventBus):
        self.playbook = playbook
        self.options = options
        self.bus = bus
        self.clock = options.clock
        self.interrupts = 0
        self.outcome: RunStatus | None = None  # set when the run could not go on
        self._current_cancel: threading.Event | None = None
        self._abort = "Ctrl-C"  # what the second signal was, for the run's error
        self._closing = False  # the run's sandbox is stopping: a signal no longer aborts
        self._said: threading.Thread | None = None  # the stop's warning, on its way
        target = playbook.target(options.target)
        self.target = target
        self.result = RunResult(
            playbook=playbook.source,
            name=playbook.name,
            target=target.name,
            dry_run=options.dry_run,
            run_id=uuid.uuid4().hex[:12],
            started_at=self.clock.time(),
        )
        self.marks = RunMarks(bus, self.result)

    # -- Ctrl-C, SIGTERM ------------------------------------------------------
    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """What the first and second Ctrl-C or SIGTERM do (also callable from tests).
        The first signal names the run's stop (``RunResult.signal``: its exit code)."""
        self.interrupts += 1
        self.result.signal = self.result.signal or signal_name(signum)
        if self.interrupts > 1:
            # Once only, and not while the run's sandbox stops (its tasks would be
            # left running): later signals find the run already ending.
            if self.interrupts > 2 or self._closing:
                return
            self._abort = "Ctrl-C" if signum == signal.SIGINT else signal_name(signum)
            raise KeyboardInterrupt
        if self._current_cancel is not None:
            self._current_cancel.set()
        self._said = emit_soon(
            self.bus.emit,
            "warning",
            f"{stop_words(signum)}: stopping the running step (Ctrl-C or SIGTERM again to abort)",
        )

    # -- the run --------------------------------------------------------------
    def run(self) -> RunResult:
        started = time.monotonic()
        result = self.result
        try:
            selected = start.selected_steps(self.playbook, self.options)
            with (
                on_signals(self.interrupt, enabled=self.options.handle_sigint),
                contextlib.ExitStack() as stack,
            ):
                self.bus.emit(
                    "run_start",
                    f"{self.playbook.name} · target {self.target.name}"
                    + (" · dry run" if self.options.dry_run else ""),
                    playbook=self.playbook.source,
                    target=self.target.name,
                    dry_run=self.options.dry_run,
                )
                run_info = {
                    "id": result.run_id,
                    "started_at": result.started_at,
                    "dry_run": self.options.dry_run,
                }
                began = start.start_run(
                    self.playbook,
                    self.target,
                    self.options,
                    run=run_info,
                    sandbox=self._sandbox(stack),
                    redactor=self.bus.redactor,
                )
                context, aws = began.context, began.aws
                start.check_inputs(self.playbook, selected, context, dry_run=self.options.dry_run)
                if ctxmod.calls_aws(self.playbook, selected, context):
                    self._identify(aws)
                self._run_steps(self.playbook.steps, "main", selected, aws, context)
                stopped = result.failed_step is not None or self.interrupts > 0
                if stopped and result.error is None and self.playbook.on_failure:
                    self._run_steps(self.playbook.on_failure, "on_failure", None, aws, context)
                result.status = self._status()
                self._finish_steps(aws)  # while a sandbox started for the run is still up
                self._closing = True
        except KeyboardInterrupt:
            self.interrupts = max(self.interrupts, 2)
            result.error = result.error or f"aborted by a second {self._abort}"
        except InputError as err:
            self._stop("invalid", err)
        except Cancelled as err:
            self.interrupts = max(self.interrupts, 1)
            result.error = self.bus.redactor.text(str(err))
        except OpskitError as err:  # the run could not start: e.g. the sandbox failed
            self._stop("error", err)
        finally:
            result.duration = time.monotonic() - started
            self._finish()
        return result

    def _stop(self, status: RunStatus, err: Exception) -> None:
        """The run cannot go on: record why (redacted: it is printed and reported)."""
        self.outcome = status
        self.result.error = self.bus.redactor.text(str(err))

    def _status(self) -> RunStatus:
        if self.interrupts:
            return "interrupted"
        if self.outcome is not None:
            return self.outcome
        return "failed" if self.result.failed_step is not None else "passed"

    def _finish_steps(self, aws: AwsAccess) -> None:
        """The run's last phase: each step whose type has a ``finish`` hears how the
        run ended (``s3.sync`` writes the verdict on its release record, so "the
        last release that passed" is a fact in the bucket). A hook that cannot do
        its part is a warning: the run's own result stands. What each says is also
        kept on the step's record, for report.json, report.md and junit.xml."""
        types = {step.id: step.type for step in self.playbook.steps}
        for record in self.result.steps:
            step_type = types[record.id]
            if step_type.finish is None or not record.outputs:
                continue
            try:
                messages = step_type.finish(RunEnd(aws, self.result, record, self.clock))
            except OpskitError as err:
                messages = [("warning", f"{record.id}: {err}")]
            for kind, message in messages:
                note = FinishNote("warning" if kind == "warning" else "info", message)
                record.finish_notes.append(note)  # the reports show it with the step
                self.bus.emit(note.kind, message, record.id)

    def _finish(self) -> None:
        if self._said is not None:  # the stop's warning comes before the run's end
            self._said.join(timeout=1)
        result = self.result
        result.status = self._status()
        self.marks.sort()
        self.bus.emit(
            "run_end",
            result.status,
            status=result.status,
            exit_code=result.exit_code,
            duration=round(result.duration, 3),
            error=result.error,
        )

    def _sandbox(self, stack: contextlib.ExitStack) -> start.SandboxSide | None:
        """The sandbox's side of the run's start when the target is one (started
        for the run unless one is up); ``None`` otherwise."""
        if not self.target.sandbox:
            return None
        found = stack.enter_context(
            start.run_sandbox(
                self.bus,
                self.options,
                self.target.sandbox_services,
                self.target.sandbox_strategy,
            )
        )
        side = start.sandbox_side(*found)
        self.result.sandbox = dict(side.details)
        return side

    def _identify(self, aws: AwsAccess) -> None:
        """Say whose credentials the run uses (a warning when the target and the
        environment name different ones) and which account, principal and region
        it acts as (one ``sts:GetCallerIdentity``), before any step; refuse
        credentials of another account than the target declares. Raises
        ``StepError``: the run stops."""
        warning = aws.credentials.warning
        if warning:
            self.result.warnings.append(warning)
            self.bus.emit("warning", warning)
        identity = aws.caller_identity()
        self.result.identity = identity
        self.bus.emit("info", identity.describe(), identity=dataclasses.asdict(identity))
        start.check_account(aws, identity)

    def _run_steps(
        self,
        steps: tuple[Step, ...],
        phase: Phase,
        selected: set[str] | None,
        aws: AwsAccess,
        context: dict[str, Any],
    ) -> None:
        records = self.result.steps if phase == "main" else self.result.on_failure
        for step in steps:
            record = StepRecord(
                step.id, step.uses, step.title, phase, continue_on_error=step.continue_on_error
            )
            records.append(record)
            blocked = phase == "main" and (self.interrupts or self.result.failed_step is not None)
            if selected is not None and step.id not in selected:
                record.selected = False
                record.summary = "not selected (--from/--only)"
            elif blocked:
                record.summary = "not run: " + (
                    "interrupted" if self.interrupts else "an earlier step failed"
                )
            if record.summary:
                self.bus.emit(
                    "step_end",
                    record.summary,
                    step.id,
                    status=record.status,
                    duration=0.0,
                    detail="",
                    uses=step.uses,
                    phase=phase,
                )
            else:
                self._run_one(step, record, aws, context)
                if self.outcome == "invalid":
                    return
            outputs = record.outputs
            if self.options.dry_run:  # null: not known in this run, so a template skips
                outputs = {name: value for name, value in outputs.items() if value is not None}
            context["steps"][step.id] = {"status": record.status, "outputs": outputs}

    def _run_one(
        self, step: Step, record: StepRecord, aws: AwsAccess, context: dict[str, Any]
    ) -> None:
        record.started_at = self.clock.time()
        started = time.monotonic()
        self.bus.emit("step_start", step.title, step.id, uses=step.uses, phase=record.phase)
        self.marks.mark(step.id, "step_start", f"{step.id} started", record.started_at)
        try:
            self._attempts(step, record, aws, context)
        except InputError as err:
            self._stop("invalid", err)
            record.status, record.summary = "error", self.result.error or ""
        record.duration = time.monotonic() - started
        if record.failed and step.continue_on_error:
            record.summary += " (continue_on_error: the run goes on)"
        self.marks.step_ended(record, self.clock.time())
        self.bus.emit(
            "step_end",
            record.summary,
            step.id,
            status=record.status,
            duration=round(record.duration, 3),
            detail=record.detail,
            uses=step.uses,
            phase=record.phase,
        )

    def _attempts(
        self, step: Step, record: StepRecord, aws: AwsAccess, context: dict[str, Any]
    ) -> None:
        step_type = step.type
        if step.when is not None:
            try:
                go = templating.evaluate_condition(step.when, context)
            except templating.TemplateProblem as err:
                raise self.playbook.error((*step.path, "when"), str(err)) from None
            if not go:
                record.summary = f"skipped: when {step.when!r} is false"
                return
        action = step_type.run
        if self.options.dry_run:
            if step_type.plan is not None:
                action = step_type.plan
            elif not step_type.read_only:
                record.summary = "skipped: this step type has no dry-run plan"
                return
        dry_run = self.options.dry_run
        try:
            inputs = start.step_inputs(self.playbook, step, context, dry_run=dry_run)
            limits = start.step_limits(self.playbook, step, context, dry_run=dry_run)
        except templating.UndefinedStepOutput:
            record.summary = "skipped: needs outputs that a dry run does not produce"
            return
        deadline = Deadline.after(self.clock, limits.timeout)
        delay = limits.retry_delay
        for attempt in range(1, limits.retries + 2):
            record.attempts = attempt
            self.marks.attempt_started(step.id)
            outcome = self._attempt(step, action, inputs, aws, context, deadline, limits.timeout)
            self.marks.attempt_ended(step.id, outcome)
            self._record(step.type, record, outcome)
            retryable = isinstance(outcome, StepProblem) and not self.interrupts
            if not retryable or attempt > limits.retries or deadline.expired():
                return
            self.bus.emit(
                "warning",
                f"attempt {attempt} failed: {record.summary}; retrying in {delay:g}s",
                step.id,
            )
            try:
                self.clock.sleep(min(delay, deadline.remaining() or delay), self._cancel_event())
            except Cancelled:
                return
            delay *= 2

    def _cancel_event(self) -> threading.Event:
        event = threading.Event()
        if self.interrupts:
            event.set()
        self._current_cancel = event
        return event

    def _attempt(
        self,
        step: Step,
        action: Callable[[StepContext, Any], StepResult],
        inputs: Any,
        aws: AwsAccess,
        context: dict[str, Any],
        deadline: Deadline,
        timeout: float | None,
    ) -> StepResult | BaseException:
        cancel = self._cancel_event()
        ctx = StepContext(
            uses=step.uses,
            clock=self.clock,
            deadline=deadline,
            cancel=cancel,
            emit=self.marks.step_emit(step.id),
            aws=aws,
            steps=dict(context["steps"]),
            run_started_at=self.result.started_at,
            base_dir=self.playbook.path.resolve().parent,
            confirm=lambda prompt: asking.confirm(self.options, prompt),
            render=start.file_renderer(context),
            ask=lambda question: asking.answer(self.options, self.clock, question, cancel),
            failed_step=failed.id if (failed := self.result.failed_step) else None,
        )
        try:
            return run_watched(
                lambda: action(ctx, inputs),
                name=f"step-{step.id}",
                timeout=timeout,
                cancel=cancel,
                grace=TIMEOUT_GRACE,
            )
        except Abandoned:
            return StepTimeout(f"{step.uses} did not stop within its timeout")
        except Cancelled as error:
            if self.interrupts:
                return error
            said = f"timed out after {timeout:g}s: {error}" if timeout else str(error)
            return StepTimeout(said, outputs=getattr(error, "outputs", None))
        except BaseException as error:  # noqa: BLE001 - recorded as the step's outcome
            return error
        finally:
            self._current_cancel = None

    def _record(
        self, step_type: StepType, record: StepRecord, outcome: StepResult | BaseException
    ) -> None:
        if isinstance(outcome, StepResult):
            try:
                outputs = step_type.outputs_dict(outcome.outputs)
            except UndeclaredOutputs as err:
                outcome = err
            else:
                record.status, record.summary = outcome.status, outcome.summary
                record.outputs, record.detail = outputs, outcome.detail
                return
        if isinstance(outcome, Cancelled):
            said = str(outcome)  # a wait loop's "interrupted", a sync's "interrupted during…"
            record.status = "failed"
            record.summary = said if said.startswith("interrupted") else f"interrupted: {said}"
            record.detail = getattr(outcome, "detail", "") or ""
            known = getattr(outcome, "outputs", None)  # what a wait learned (a deployment)
            if known is not None:
                record.outputs = step_type.outputs_dict(known)
        elif isinstance(outcome, StepProblem):
            record.status, record.summary, record.detail = (
                outcome.status,
                outcome.summary,
                outcome.detail,
            )
            if outcome.outputs is not None:
                try:
                    record.outputs = step_type.outputs_dict(outcome.outputs)
                except UndeclaredOutputs as err:
                    self._record(step_type, record, err)
        elif isinstance(outcome, InputError):
            raise outcome
        elif isinstance(outcome, Exception):
            record.status = "error"
            record.summary = f"internal error: {type(outcome).__name__}: {outcome}"
            record.detail = (
                "".join(traceback.format_exception(outcome)) if self.options.debug else ""
            )
        else:
            raise outcome
