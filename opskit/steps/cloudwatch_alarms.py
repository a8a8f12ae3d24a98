"""``cloudwatch.alarms``: named alarms (or an ECS service's deployment alarms)
as bake-time guards.

A release that passed its checks may still hurt production minutes later (5xx
rising, latency creeping): this step watches the alarms a team already trusts
for a bake window, fails at the first read that finds one in ALARM, naming it
and CloudWatch's reason, and with ``rollback`` takes the service back through
ECS (its native rollback on BLUE_GREEN/LINEAR/CANARY, the previous task
definition on ROLLING). The watching is ``opskit.cloudwatch.watch``; the way
back, ``opskit.cloudwatch.rollback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.cloudwatch.rollback import Wait, Way, roll_back_after
from opskit.cloudwatch.watch import Watched, span, watch_alarms
from opskit.ecs.describe import describe_service
from opskit.ecs.names import plural
from opskit.ecs.settings import ROLLING
from opskit.errors import InputError, StepFailed
from opskit.iam.needs import Need, Permissions, all_of, flag
from opskit.iam.resources import (
    EcsService,
    EcsServiceDeployments,
    EcsTaskList,
    EcsTasks,
    Everything,
)
from opskit.inputs import InvalidInput
from opskit.logs.selection import positive
from opskit.steps.base import StepContext, StepResult, StepType, output, param


@dataclass(frozen=True, kw_only=True)
class AlarmsInputs:
    alarms: list[str] | None = param(
        "names of the CloudWatch alarms to watch (metric, composite or Logs alarms); "
        "default: the deployment alarms of cluster/service (deploymentConfiguration.alarms)",
        "string_list",
    )
    cluster: str | None = param(
        "ECS cluster of the service whose deployment alarms are watched or rolled back",
        "string",
    )
    service: str | None = param(
        "ECS service whose deployment alarms are watched (when alarms is not given) and "
        "that rollback takes back",
        "string",
    )
    window: float = param(
        "how long the alarms must stay out of ALARM (the bake window)",
        "duration",
        default=300.0,
        check=positive,
    )
    poll_interval: float = param(
        "time between reads of the alarms", "duration", default=15.0, check=positive
    )
    rollback: bool = param(
        "when an alarm fires, roll the service back through ECS (its native rollback on "
        "BLUE_GREEN/LINEAR/CANARY, previous_task_definition on ROLLING) and wait for it",
        "boolean",
        default=False,
    )
    previous_task_definition: str | None = param(
        "the task definition a ROLLING service goes back to on rollback; default: the "
        "previous_task_definition of the newest earlier step that has it (ecs.redeploy)",
        "string",
    )

    def __post_init__(self) -> None:
        if (self.cluster is None) != (self.service is None):
            missing = "service" if self.service is None else "cluster"
            raise InvalidInput(missing, "give cluster and service together")
        if self.service is None:
            if not self.alarms:
                raise InvalidInput(
                    "alarms",
                    "give alarms (names), or cluster and service (their deployment alarms)",
                )
            if self.rollback:
                raise InvalidInput("service", "rollback: true needs the cluster and service")


@dataclass(frozen=True, kw_only=True)
class AlarmsOutputs:
    alarms: list[str] = output("the names of the alarms watched", "string_list")
    fired: list[str] | None = output(
        "the alarms found in ALARM ([] when none fired through the window; null in a dry run)",
        "string_list",
    )


def _service(ctx: StepContext, inputs: AlarmsInputs) -> dict[str, Any] | None:
    if inputs.cluster is None or inputs.service is None:
        return None
    return describe_service(ctx.aws, inputs.cluster, inputs.service)


def _names(ctx: StepContext, inputs: AlarmsInputs, record: dict[str, Any] | None) -> list[str]:
    """The alarms to watch: as given, else the service's deployment alarms (even when
    ECS itself does not act on them: the playbook asked to watch them)."""
    if inputs.alarms:
        return list(dict.fromkeys(inputs.alarms))
    assert record is not None
    config = (record.get("deploymentConfiguration") or {}).get("alarms") or {}
    names = [str(n) for n in config.get("alarmNames") or []]
    if not names:
        raise InputError(
            f"{ctx.uses}: ECS service {inputs.service!r} in cluster {inputs.cluster!r} has no "
            "deployment alarms (deploymentConfiguration.alarms); name the alarms with alarms:"
        )
    if not config.get("enable"):
        ctx.emit(
            "info", "the service's deployment alarms are not enabled: ECS does not act on them"
        )
    return list(dict.fromkeys(names))


def _way(ctx: StepContext, inputs: AlarmsInputs, record: dict[str, Any] | None) -> Way | None:
    """How rollback would go, checked before the watch: a ROLLING service with no
    task definition to go back to is bad input, said now, not after the window."""
    if not inputs.rollback or record is None:
        return None
    assert inputs.cluster is not None and inputs.service is not None
    strategy = str((record.get("deploymentConfiguration") or {}).get("strategy") or ROLLING)
    way = Way(inputs.cluster, inputs.service, strategy)
    if way.native:
        return way
    previous = inputs.previous_task_definition or ctx.earlier_output("previous_task_definition")
    if not previous:
        raise InputError(
            f"{ctx.uses}: rollback on ECS service {inputs.service!r} ({strategy}) needs "
            "previous_task_definition: the task definition to go back to (no earlier step "
            "has that output)"
        )
    return Way(inputs.cluster, inputs.service, strategy, str(previous))


def _watching(names: list[str], window: float) -> str:
    shown = ", ".join(names)
    return f"{plural(len(names), 'alarm')} ({shown}) for {span(window)}"


def plan(ctx: StepContext, inputs: AlarmsInputs) -> StepResult:
    """Dry run: read the service (when named), say which alarms would be watched, for
    how long, and what rollback would do; the alarms are not read."""
    record = _service(ctx, inputs)
    names = _names(ctx, inputs, record)
    way = _way(ctx, inputs, record)
    lines = [f"would watch {_watching(names, inputs.window)}, reading every "
             f"{span(inputs.poll_interval)}"]  # fmt: skip
    if way is not None:
        lines.append(f"if one goes to ALARM, would {way.describe()}")
    elif inputs.rollback:
        lines.append("rollback: true, but no service to roll back")
    for line in lines:
        ctx.emit("info", line)
    return StepResult("ok", lines[0], AlarmsOutputs(alarms=names, fired=None), "\n".join(lines))


def run(ctx: StepContext, inputs: AlarmsInputs) -> StepResult:
    record = _service(ctx, inputs)
    names = _names(ctx, inputs, record)
    way = _way(ctx, inputs, record)
    remaining = ctx.deadline.remaining()
    if remaining is not None and remaining < inputs.window:
        ctx.emit(
            "warning",
            f"the step's timeout ({span(remaining)} left) is shorter than its window "
            f"({span(inputs.window)}): it cannot pass",
        )
    ctx.emit("info", f"watching {_watching(names, inputs.window)}")
    watched = watch_alarms(
        ctx.aws, names, window=inputs.window, interval=inputs.poll_interval, emit=ctx.emit,
        clock=ctx.clock, deadline=ctx.deadline, cancel=ctx.cancel,
    )  # fmt: skip
    if not watched.fired:
        return _passed(names, inputs.window, watched)
    outputs = AlarmsOutputs(alarms=names, fired=[a.name for a in watched.fired])
    summary = watched.describe_firing()
    detail = [f"{a.name} ({a.kind}): ALARM: {a.reason}" for a in watched.fired]
    if way is not None:
        ctx.emit("warning", f"{summary}: rolling back")
        wait = Wait(inputs.poll_interval, ctx.emit, ctx.clock, ctx.deadline, ctx.cancel)
        note = roll_back_after(ctx.aws, way, summary, wait)
        summary += f"; {note}"
        detail.append(note)
    raise StepFailed(summary, detail="\n".join(detail), outputs=outputs)


def _passed(names: list[str], window: float, watched: Watched) -> StepResult:
    summary = f"no alarm in ALARM through {span(window)}: {plural(len(names), 'alarm')} watched"
    notes = []
    if watched.without_data:
        notes.append("INSUFFICIENT_DATA at some read: " + ", ".join(watched.without_data))
    if watched.throttled:
        notes.append(f"{plural(watched.throttled, 'read')} throttled by CloudWatch, skipped")
    if notes:
        summary += f" ({'; '.join(notes)})"
    detail = "\n".join([f"watched: {', '.join(names)}", f"reads: {watched.reads}", *notes])
    return StepResult("ok", summary, AlarmsOutputs(alarms=names, fired=[]), detail)


# DescribeAlarms takes `*` only where composite alarms are read: "you must be signed on
# with the cloudwatch:DescribeAlarms permission that is scoped to *" (its API reference).
# Rollback on a native strategy answers ECS's service deployment; on ROLLING it sends
# UpdateService and follows the deployment's tasks.
_SERVICE = all_of("cluster", "service", text="cluster and service set")
_ROLLBACK = flag("rollback")
PERMISSIONS = Permissions(
    Need("cloudwatch:DescribeAlarms", Everything("CloudWatchAlarms"), "read the alarms, each poll"),
    Need("ecs:DescribeServices", EcsService(), "the deployment alarms; strategy; rollback",
         _SERVICE),
    Need("ecs:DescribeServiceDeployments", EcsServiceDeployments(),
         "rollback on a native strategy: the current service deployment, followed", _ROLLBACK),
    Need("ecs:ContinueServiceDeployment", EcsServiceDeployments(),
         "rollback on a native strategy paused at a hook: ROLLBACK", _ROLLBACK),
    Need("ecs:StopServiceDeployment", EcsServiceDeployments(),
         "rollback on a native strategy in progress: stopType ROLLBACK", _ROLLBACK),
    Need("ecs:UpdateService", EcsService(), "rollback on ROLLING: the previous task definition",
         _ROLLBACK),
    Need("ecs:ListTasks", EcsTaskList(), "rollback on ROLLING: the deployment's tasks", _ROLLBACK),
    Need("ecs:DescribeTasks", EcsTasks(), "rollback on ROLLING: the deployment's tasks", _ROLLBACK),
)  # fmt: skip


STEP = StepType(
    name="cloudwatch.alarms",
    summary="Watch CloudWatch alarms for a bake window; fail (and roll back) when one fires",
    inputs=AlarmsInputs,
    outputs=AlarmsOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
)
