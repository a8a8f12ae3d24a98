"""``logs.tail``: print the logs of a service's current tasks (or given tasks) for a
while or until Ctrl-C; the library behind ``opskit logs``.

Read the same exact way as ``logs.wait`` (named streams only, each event once),
with each line labelled NEW or OLD, so an on-call engineer can tell the draining
task from the new one at a glance. It judges nothing: it ends ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opskit.clock import Deadline, poll_until
from opskit.durations import format_duration
from opskit.errors import Cancelled, InputError, StepTimeout
from opskit.iam.needs import Need, Permissions, all_of
from opskit.iam.resources import (
    AllLogGroups,
    EcsService,
    EcsTaskList,
    EcsTasks,
    Everything,
    LogGroup,
)
from opskit.logs.calls import logs_client
from opskit.logs.reader import LogReader, PollResult, read_through
from opskit.logs.selection import StreamSelection, emit_line, emit_notes, positive
from opskit.logs.service_tasks import service_streams
from opskit.logs.streams import StreamTarget
from opskit.logs.targets import EarlierOutput, check_since, ecs_task_ids, resolve_targets
from opskit.logs.times import iso_ms, parse_since
from opskit.steps.base import StepContext, StepResult, StepType, output, param

SERVICE_REFRESH_SECONDS = 15.0  # pick up tasks that a deployment starts meanwhile


@dataclass(frozen=True, kw_only=True)
class TailInputs(StreamSelection):
    log_group: str | None = param(
        "CloudWatch Logs group; default: the service's awslogs-group, or the ECS step's.",
        "string",
    )
    cluster: str | None = param("ECS cluster of the service whose running tasks to tail.", "string")
    service: str | None = param("ECS service whose running tasks to tail.", "string")
    duration: float | None = param(
        "How long to tail; default: until Ctrl-C or the step's timeout.", "duration"
    )
    since: str = param(
        "Start with events from this long ago (5m) or this ISO 8601 time.",
        "string",
        default="5m",
        check=check_since,
    )
    follow: bool = param("Keep reading new lines; false reads once.", "boolean", default=True)
    poll_interval: float = param("Time between reads.", "duration", default=2.0, check=positive)


@dataclass(frozen=True, kw_only=True)
class TailOutputs:
    lines_read: int = output("number of log lines printed", "integer")
    streams: list[str] = output("the exact stream names read", "string_list")


@dataclass
class _Tail:
    ctx: StepContext
    reader: LogReader
    targets: dict[str, StreamTarget]
    cluster: str | None
    service: str | None
    refreshed_at: float
    announced: set[str] = field(default_factory=set)

    def check(self) -> None:
        """One read for ``poll_until``: a tail never ends by itself."""
        self.read()

    def read(self) -> PollResult:
        if self.cluster and self.service:
            now = self.ctx.clock.monotonic()
            if now - self.refreshed_at >= SERVICE_REFRESH_SECONDS:
                self.refreshed_at = now
                self.add(_service_targets(self.ctx, self.cluster, self.service)[1])
        result = self.reader.poll()
        emit_notes(self.ctx.emit, result.notes)
        for name in result.missing:
            if name not in self.announced:
                self.announced.add(name)
                self.ctx.emit("progress", f"waiting for stream {name} to appear", stream=name)
        for line in result.lines:
            emit_line(self.ctx.emit, self.targets[line.stream], line)
        return result

    def add(self, targets: list[StreamTarget]) -> None:
        fresh = [t for t in targets if t.stream not in self.targets]
        for target in fresh:
            self.targets[target.stream] = target
            self.ctx.emit(
                "info", f"tailing task {target.short_id} ({target.age})", stream=target.stream
            )
        self.reader.add_streams(t.stream for t in fresh)


def _service_targets(
    ctx: StepContext, cluster: str, service: str
) -> tuple[str | None, list[StreamTarget]]:
    found = service_streams(
        ctx.aws.client("ecs"),
        ctx.aws.call,
        cluster,
        service,
        new_task_ids=ecs_task_ids(_earlier(ctx), "new_task_ids"),
        old_task_ids=ecs_task_ids(_earlier(ctx), "old_task_ids"),
    )
    return found.log_group, found.targets


def _earlier(ctx: StepContext) -> EarlierOutput:
    return ctx.earlier_output


def tail(ctx: StepContext, inputs: TailInputs) -> StepResult:
    """Emit the lines of the chosen streams as ``log`` events until ``duration``,
    the step's deadline or Ctrl-C (``ctx.cancel``); always ends ``ok`` with
    ``lines_read``."""
    cluster, service = inputs.cluster, inputs.service
    if bool(cluster) != bool(service):
        raise InputError(f"{ctx.uses}: give both cluster and service, or neither")
    log_group = inputs.log_group
    targets: list[StreamTarget] = []
    if cluster and service:
        group, targets = _service_targets(ctx, cluster, service)
        log_group = log_group or group
    if inputs.task_ids or inputs.streams or not (cluster and service):
        targets += resolve_targets(inputs, _earlier(ctx), label=ctx.uses)
    log_group = log_group or ctx.earlier_output("log_group")
    if not log_group:
        raise InputError(
            f"{ctx.uses}: log_group is needed (no task definition or ECS step names it)"
        )
    if not targets:
        ctx.emit("warning", f"service {service} has no running task with awslogs; waiting for one")
    try:
        since_ms = parse_since(inputs.since, ctx.clock.time())
    except ValueError as err:
        raise InputError(f"{ctx.uses}: {err}") from None

    reader = LogReader(
        logs_client(ctx.aws),
        str(log_group),
        [],
        since_ms,
        call=ctx.aws.call,
        target=ctx.aws.target,
        clock=ctx.clock,
    )
    watch = _Tail(ctx, reader, {}, cluster, service, refreshed_at=ctx.clock.monotonic())
    watch.add(list({t.stream: t for t in targets}.values()))
    ctx.emit("info", f"tailing {len(targets)} stream(s) of {log_group} since {iso_ms(since_ms)}")

    ending = "read once"
    throttling_said = False  # the ending says it already
    if not inputs.follow:
        why = read_through(
            reader,
            watch.read,
            deadline=ctx.deadline,
            cancel=ctx.cancel,
            interval=inputs.poll_interval,
        )
        if why is not None:
            ending = f"read in part: {why}"
            throttling_said = reader.throttling.mostly()
    else:
        started = ctx.clock.monotonic()
        deadline = ctx.deadline
        if inputs.duration is not None:
            limit = ctx.clock.monotonic() + inputs.duration
            at = limit if deadline.at is None else min(limit, deadline.at)
            deadline = Deadline(ctx.clock, at)
        try:
            poll_until(
                watch.check,
                clock=ctx.clock,
                deadline=deadline,
                interval=lambda: reader.next_poll(inputs.poll_interval),
                cancel=ctx.cancel,
            )
        except StepTimeout:
            ending = f"for {format_duration(ctx.clock.monotonic() - started)}"
        except Cancelled:
            ending = f"stopped after {format_duration(ctx.clock.monotonic() - started)}"
    summary = (
        f"{reader.lines_read} lines from {len(watch.targets)} stream(s) of {log_group}, {ending}"
    )
    if (reader.throttling.throttled or reader.throttling.held) and not throttling_said:
        summary += f"; CloudWatch Logs throttled {reader.throttling.describe()}"
    return StepResult(
        "ok",
        summary,
        TailOutputs(lines_read=reader.lines_read, streams=list(watch.targets)),
    )


SERVICE = all_of("cluster", "service", text="cluster and service set")
PERMISSIONS = Permissions(
    Need("ecs:DescribeServices", EcsService(), "the service's PRIMARY deployment", SERVICE),
    Need("ecs:ListTasks", EcsTaskList(), "the service's running tasks", SERVICE),
    Need("ecs:DescribeTasks", EcsTasks(), "the service's running tasks", SERVICE),
    Need(
        "ecs:DescribeTaskDefinition",
        Everything("EcsTaskDefinitions"),
        "the tasks' awslogs settings",
        SERVICE,
    ),
    Need("logs:DescribeLogGroups", AllLogGroups(), "the log group must exist"),
    Need("logs:GetLogEvents", LogGroup("log_group", "cluster", "service"), "has a stream appeared"),
    Need("logs:FilterLogEvents", LogGroup("log_group", "cluster", "service"), "read the streams"),
)


STEP = StepType(
    name="logs.tail",
    summary="Print the CloudWatch logs of a service's running tasks (or given tasks), "
    "labelled NEW/OLD, for a while or until Ctrl-C.",
    inputs=TailInputs,
    outputs=TailOutputs,
    run=tail,
    read_only=True,
    permissions=PERMISSIONS,
)
