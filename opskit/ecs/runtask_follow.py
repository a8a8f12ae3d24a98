"""Follow a one-off task from RunTask until ECS stops it, then judge ECS's record.

Kept apart from ``opskit.ecs.runtask`` (what RunTask is sent, the pure verdict)
because this part acts: it polls, shows the task's log lines as they arrive,
puts the task's moments on the timeline and sends StopTask for a task that
never started or that its runner gives up on. Time, sleep and output come in
as the step's clock, deadline, sleep and emit, so tests never really sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline
from opskit.ecs.describe import epoch
from opskit.ecs.failure import describe_stopped_tasks
from opskit.ecs.names import task_id_of
from opskit.ecs.runtask import (
    EXITED,
    NOT_STARTED,
    Ending,
    RunRequest,
    deciding_containers,
    describe_task,
    ending,
    log_stream_of,
    stop_task,
)
from opskit.ecs.taskdef import container_log_targets
from opskit.errors import StepError, StepFailed, StepTimeout
from opskit.logs.calls import logs_client
from opskit.logs.reader import LogReader
from opskit.logs.streams import short_id

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit

MISSING_LIMIT = 60.0  # seconds DescribeTasks may answer MISSING after RunTask


class NeverStarted(StepFailed):
    """The task stayed PROVISIONING/PENDING past its start timeout and was stopped.

    ``reason`` is the StopTask reason sent: the step reports it as the task's
    stopped reason, since ECS's own record may not have one yet."""

    def __init__(self, summary: str, *, detail: str, reason: str):
        super().__init__(summary, detail=detail)
        self.reason = reason


class TaskFollow:
    """One task, polled until it stops; ``record`` is ECS's newest record of it, so
    a timeout can still report what was last known."""

    def __init__(
        self,
        aws: AwsAccess,
        request: RunRequest,
        task: dict[str, Any],
        *,
        label: str,
        emit: Emit,
        clock: Clock,
        deadline: Deadline,
        sleep: Callable[[float], None],
    ):
        self.aws, self.request, self.label, self.emit = aws, request, label, emit
        self.clock, self.deadline, self.sleep = clock, deadline, sleep
        self.arn = str(task.get("taskArn", ""))
        self.task_id = task_id_of(self.arn)
        self.record: dict[str, Any] = task
        self.started_marked = False
        group, stream = log_stream_of(request.definition, request.container, self.task_id)
        self.reader: LogReader | None = None
        if stream and aws is not None:
            self.reader = LogReader(
                logs_client(aws), group, [stream], int((clock.time() - 60) * 1000),
                call=aws.call, target=aws.target, clock=clock,
            )  # fmt: skip

    def read_logs(self) -> None:
        if self.reader is None:
            return
        for line in self.reader.poll().lines:
            self.emit(
                "log", line.text, task_id=self.task_id, short_id=short_id(self.task_id),
                age="NEW", timestamp=line.timestamp, stream=line.stream,
            )  # fmt: skip

    def mark_started(self) -> None:
        if not self.started_marked and self.record.get("startedAt"):
            self.started_marked = True
            at = epoch(self.record["startedAt"])
            self.emit("mark", f"task {short_id(self.task_id)} started", at=at, what="run_task")

    def wait(self, poll_interval: float, start_timeout: float) -> dict[str, Any]:
        """The STOPPED record; raises for a task that never starts or is not found."""
        begun = self.clock.monotonic()
        missing_since: float | None = None
        while True:
            record = describe_task(self.aws, self.request.cluster, self.arn)
            now = self.clock.monotonic()
            if record is None:
                missing_since = now if missing_since is None else missing_since
                if now - missing_since > MISSING_LIMIT:
                    raise StepError(
                        f"ECS does not find task {self.task_id} {MISSING_LIMIT:.0f}s after "
                        "RunTask started it (DescribeTasks: MISSING)"
                    )
            else:
                missing_since = None
                self.record = record
                self.mark_started()
                self.read_logs()
                status = record.get("lastStatus", "")
                if status == "STOPPED" or record.get("stopCode") == "TaskFailedToStart":
                    return record
                if status in NOT_STARTED and now - begun >= start_timeout:
                    self.never_started(status, now - begun)
            if self.deadline.expired():
                raise StepTimeout(f"timed out: task {self.task_id} is {self.status()}")
            self.sleep(poll_interval)

    def status(self) -> str:
        return str(self.record.get("lastStatus") or "not visible yet")

    def stop(self, reason: str) -> float:
        """StopTask, marked on the timeline when ECS stopped it (else when it was
        asked to); returns that moment."""
        asked = self.clock.time()
        answer = stop_task(self.aws, self.request.cluster, self.arn, reason)
        at = epoch(answer.get("stoppedAt")) or asked
        label = f"task {short_id(self.task_id)} stopped by opskit"
        self.emit("mark", label, at=at, what="task_stopped")
        return at

    def never_started(self, status: str, waited: float) -> None:
        reason = f"opskit {self.label}: task still {status} after {waited:.0f}s (start_timeout)"
        at = self.stop(reason)
        self.emit("mark", f"task {short_id(self.task_id)} failed", at=at, what="failure")
        raise NeverStarted(
            f"task {short_id(self.task_id)} never started: still {status} after "
            f"{waited:.0f}s; stopped it",
            detail=f"task {self.arn}\nlast status {status}; StopTask sent: {reason}",
            reason=reason,
        )

    def give_up(self, why: str, leave_running: bool) -> str:
        """On a timeout or Ctrl-C: stop the task unless told to leave it running, since
        a migration left running after its runner gave up is the worse surprise."""
        if leave_running:
            return f"task {self.task_id} is left running (leave_running: true)"
        reason = f"opskit {self.label}: {why}"
        self.stop(reason)
        return f"task {self.task_id} stopped (StopTask: {reason})"


@dataclass(frozen=True)
class TaskVerdict:
    """``summary`` is the step's one line either way; ``detail`` (a failed task's
    only) is ECS's stop reason and the task's last log lines."""

    ending: Ending
    summary: str
    detail: str = ""


def settle(follow: TaskFollow, record: dict[str, Any], log_lines: int) -> TaskVerdict:
    """Judge the STOPPED ``record`` and mark its end; a failure's summary names
    which rule it broke, so the reader need not open the detail to know."""
    request = follow.request
    deciding = deciding_containers(request.definition, request.container)
    end = ending(record, request.container, deciding)
    name = f"task {short_id(follow.task_id)}"
    if record.get("stoppedAt"):
        label = f"{name} exited {end.exit_code}" if end.exit_code is not None else f"{name} stopped"
        follow.emit("mark", label, at=epoch(record["stoppedAt"]), what="run_task")
    if end.passed:
        return TaskVerdict(end, f"{name} exited 0 after {end.seconds:.1f}s")
    ended = record.get("stoppedAt") or record.get("stoppingAt")
    follow.emit("mark", f"{name} failed", at=epoch(ended) or follow.clock.time(), what="failure")
    reason = end.reason or "no stopped reason"
    if not end.started:
        summary = f"{name} failed to start: {reason}"
    elif end.stop_code != EXITED:
        summary = (
            f"{name} did not end on its own: stopped with {end.stop_code or 'no stop code'} "
            f"({reason}), not {EXITED}"
        )
    elif end.faults == (f"container {request.container} exited {end.exit_code}",):
        summary = f"{name} exited {end.exit_code} after {end.seconds:.1f}s"
    elif end.faults == (f"container {request.container} has no exit code",):
        summary = f"{name} stopped without an exit code: {reason}"
    else:
        summary = f"{name} failed after {end.seconds:.1f}s: {'; '.join(end.faults)}"
    detail = describe_stopped_tasks(
        follow.aws, [record], container_log_targets(request.definition), log_lines
    )
    return TaskVerdict(end, summary, detail)
