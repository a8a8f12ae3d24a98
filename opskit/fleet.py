"""One playbook over many targets in one process: parallel, canary first, a failure budget.

Each target runs as a single run does (its own ``Runner``, its own report
section), in a worker thread; the fleet decides only *which targets start
when*:

- ``parallel``: at most this many targets run at once;
- ``canary``: the first K targets run alone; the rest start only if all of them
  passed (a release that breaks the canary never reaches the fleet);
- ``max_failures``: after M targets failed no new target starts; those already
  running finish.

A target that never started is recorded as ``skipped`` with the reason, so the
report says why prod-seoul did not run. Ctrl-C stops every running target's
step (each runner's own interrupt: its ``on_failure`` diagnostics still run)
and starts no new one; a second Ctrl-C stops waiting at once. Either way the
fleet's report is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from opskit.errors import OpskitError
from opskit.events import EventBus, EventKind
from opskit.model import FleetResult, RunOptions, RunResult, RunStatus
from opskit.playbook import Playbook, Target
from opskit.runner import Runner
from opskit.start import run_sandbox
from opskit.watchdog import emit_soon, on_signals, signal_name, stop_words

__all__ = ["FleetOptions", "run_fleet"]


@dataclass(frozen=True)
class FleetOptions:
    parallel: int = 1
    canary: int = 0
    max_failures: int | None = None


class _TargetBus(EventBus):
    """The fleet's bus as one target's runner sees it: every event carries the
    target's name (``--output json`` consumers and the live view group by it)."""

    def __init__(self, parent: EventBus, target: str):
        super().__init__(parent.redactor)
        self._parent = parent
        self._target = target

    def emit(self, kind: EventKind, message: str, step_id: str | None = None, **data: Any) -> None:
        data["target"] = self._target  # run_start names it already: the same name
        self._parent.emit(kind, message, step_id, **data)


class _Fleet:
    def __init__(
        self,
        playbook: Playbook,
        targets: Sequence[Target],
        options: RunOptions,
        fleet: FleetOptions,
        bus: EventBus,
    ):
        self.playbook = playbook
        self.targets = list(targets)
        self.options = options
        self.fleet = fleet
        self.bus = bus
        self.results: dict[str, RunResult] = {}
        self.running: dict[str, Runner] = {}
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(max(1, fleet.parallel))
        self.interrupts = 0
        self.signal: str | None = None  # the first signal that stopped the fleet
        self.stop_reason: str | None = None

    # -- scheduling -------------------------------------------------------------
    def run(self) -> None:
        canary = self.targets[: self.fleet.canary]
        rest = self.targets[len(canary) :]
        for target in canary:
            self._start(target)
        self._wait()
        with self.lock:
            failed = [r.target for r in self.results.values() if r.status != "passed"]
        if canary and failed and self.stop_reason is None:
            self.stop_reason = (
                f"canary {', '.join(failed)} did not pass (--canary {self.fleet.canary})"
            )
        for target in rest:
            self._start(target)
        self._wait()

    def _start(self, target: Target) -> None:
        while not self.slots.acquire(timeout=0.1):  # woken often enough for Ctrl-C
            if self.interrupts > 1:
                self.not_started(target, "interrupted")
                return
        options = dataclasses.replace(
            self.options,
            target=target.name,
            handle_sigint=False,
            person=None,  # a fleet never prompts: its targets cannot each ask
            nobody="a fleet never prompts",
        )
        runner = Runner(self.playbook, options, _TargetBus(self.bus, target.name))
        with self.lock:  # checked and registered at once: a Ctrl-C now reaches this runner
            reason = self.stop_reason or self._budget_spent()
            if reason is None:
                self.running[target.name] = runner
        if reason is not None:
            self.slots.release()
            self.not_started(target, reason)
            return

        def work() -> None:
            try:
                result = runner.run()
            except BaseException as err:  # noqa: BLE001 - a target's crash is its own result
                result = runner.result
                result.status, result.error = "error", f"{type(err).__name__}: {err}"
            finally:  # recorded first, so the next start sees this target's verdict
                with self.lock:
                    self.running.pop(target.name, None)
            with self.lock:
                self.results[target.name] = result
            self.slots.release()

        thread = threading.Thread(target=work, name=f"target-{target.name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _budget_spent(self) -> str | None:
        """Why no new target may start after too many failures (call under the lock)."""
        limit = self.fleet.max_failures
        if limit is None:
            return None
        failed = [r.target for r in self.results.values() if r.status not in ("passed", "skipped")]
        if len(failed) >= limit:
            return f"{len(failed)} target(s) failed ({', '.join(failed)}; --max-failures {limit})"
        return None

    def _wait(self) -> None:
        for thread in self.threads:
            while thread.is_alive():
                thread.join(0.1)
                if self.interrupts > 1:
                    return

    def not_started(self, target: Target, reason: str, status: RunStatus | None = None) -> None:
        """A target the fleet never started: ``skipped`` (exit 0) when the fleet chose
        not to (canary, failure budget), ``interrupted`` (exit 130; 143 after SIGTERM) after Ctrl-C,
        ``error`` when the fleet itself could not start (its sandbox)."""
        if status is None:
            status = "interrupted" if reason == "interrupted" else "skipped"
        result = RunResult(
            playbook=self.playbook.source,
            name=self.playbook.name,
            target=target.name,
            dry_run=self.options.dry_run,
            run_id=uuid.uuid4().hex[:12],
            started_at=self.options.clock.time(),
            status=status,
            error=f"not started: {reason}",
            signal=self.signal if status == "interrupted" else None,
        )
        with self.lock:
            self.results[target.name] = result
        self.bus.emit("run_end", status, target=target.name, status=status,
                      exit_code=result.exit_code, duration=0.0, error=result.error)  # fmt: skip

    # -- Ctrl-C ---------------------------------------------------------------
    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """Ctrl-C or SIGTERM (``signum``): each running target's runner hears it."""
        self.interrupts += 1
        self.stop_reason = self.stop_reason or "interrupted"
        self.signal = self.signal or signal_name(signum)
        if self.interrupts > 1:
            return
        emit_soon(self.bus.emit, "warning", f"{stop_words(signum)}: stopping every target's "
                  "running step (another Ctrl-C or SIGTERM stops waiting)")  # fmt: skip
        with self.lock:
            runners = list(self.running.values())
        for runner in runners:
            runner.interrupt(signum)

    def outcome(self, duration: float) -> FleetResult:
        runs = []
        for target in self.targets:
            with self.lock:
                result = self.results.get(target.name)
                runner = self.running.get(target.name)
            if result is None and runner is not None:  # left running by a second Ctrl-C
                result = runner.result
                result.status = "interrupted"
                result.signal = result.signal or self.signal
                result.error = result.error or "aborted by a second signal (Ctrl-C or SIGTERM)"
            elif result is None:
                self.not_started(target, "interrupted")
                result = self.results[target.name]
            runs.append(result)
        return FleetResult(self.playbook.source, self.playbook.name, runs, duration)


def run_fleet(
    playbook: Playbook,
    targets: Sequence[Target],
    options: RunOptions,
    fleet: FleetOptions,
    bus: EventBus,
) -> FleetResult:
    """Run ``playbook`` on every target (see the module's docstring); never raises for
    a failed target. The fleet's status and exit code are its worst target's."""
    started = time.monotonic()
    engine = _Fleet(playbook, targets, options, fleet, bus)
    names = [t.name for t in targets]
    bus.emit(
        "fleet_start",
        f"{playbook.name} · {len(names)} targets · parallel {fleet.parallel}"
        + (f" · canary {fleet.canary}" if fleet.canary else "")
        + (f" · max failures {fleet.max_failures}" if fleet.max_failures is not None else "")
        + (" · dry run" if options.dry_run else ""),
        playbook=playbook.source,
        targets=names,
    )
    try:
        with (
            on_signals(engine.interrupt, enabled=options.handle_sigint),
            _shared_sandbox(targets, options, bus),
        ):
            engine.run()
    except OpskitError as err:  # the fleet could not start (its sandbox): each target says why
        for target in targets:
            if target.name not in engine.results:
                engine.not_started(target, bus.redactor.text(str(err)), "error")
    result = engine.outcome(time.monotonic() - started)
    bus.emit(
        "fleet_end",
        result.status,
        status=result.status,
        exit_code=result.exit_code,
        duration=round(result.duration, 3),
        verdicts={r.target: r.status for r in result.runs},
        reasons={r.target: r.error or _failed_step(r) for r in result.runs if r.status != "passed"},
    )
    return result


@contextlib.contextmanager
def _shared_sandbox(
    targets: Sequence[Target], options: RunOptions, bus: EventBus
) -> Iterator[None]:
    """One sandbox for every sandbox target of the fleet, up for the whole fleet:
    each target's run finds it (``sandbox_for_run``) instead of starting and
    stopping its own between targets."""
    services = max((t.sandbox_services for t in targets if t.sandbox), default=0)
    if not services:
        yield
        return
    with run_sandbox(bus, options, services):
        yield


def _failed_step(run: RunResult) -> str:
    step = run.failed_step
    return f"{step.id}: {step.summary}" if step is not None else run.status
