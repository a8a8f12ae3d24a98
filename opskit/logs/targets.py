"""Step inputs -> the exact streams to read, shared by ``logs.wait`` and ``logs.tail``.

Defaults come from the newest earlier ``ecs.*`` step, so a playbook can write
just ``task_ids: "{{ steps.redeploy.outputs.new_task_ids }}"``: the ECS step
publishes ``log_stream_prefix``, ``container``, ``started_at``, ``new_task_ids``
and ``old_task_ids``.
"""

from __future__ import annotations

from typing import Any

from opskit.errors import InputError
from opskit.logs.streams import NEW, OLD, StreamTarget, stream_name, task_id_from_stream, task_id_of
from opskit.logs.times import parse_since
from opskit.steps.base import StepContext


def ecs_task_ids(ctx: StepContext, name: str) -> list[str]:
    """``new_task_ids`` / ``old_task_ids`` of the newest earlier ECS step, as ids."""
    return [task_id_of(str(t)) for t in ctx.earlier_output("ecs.", name) or []]


def age_of(task_id: str, given: list[str], ctx: StepContext) -> str:
    """NEW for the tasks the user asked about; otherwise what the ECS step says."""
    if given:
        return NEW if task_id in given else OLD
    if task_id in ecs_task_ids(ctx, "old_task_ids"):
        return OLD
    return NEW


def resolve_targets(
    ctx: StepContext, inputs: dict[str, Any], *, default_tasks: bool = True
) -> list[StreamTarget]:
    """The streams named by ``task_ids`` (+ ``stream_prefix``/``container``) and ``streams``.

    With neither, ``default_tasks`` falls back to the ECS step's ``new_task_ids``.
    Raises ``InputError`` when the stream names cannot be computed.
    """
    streams = list(inputs.get("streams") or [])
    given = inputs.get("task_ids")
    if given is None and not streams and default_tasks:
        given = ctx.earlier_output("ecs.", "new_task_ids")
    task_ids = [task_id_of(str(t)) for t in given or [] if str(t).strip()]
    if given is not None and not task_ids and not streams:
        raise InputError(f"{ctx.uses}: task_ids is empty: there is no task to read logs from")

    targets: list[StreamTarget] = []
    if task_ids:
        prefix = inputs.get("stream_prefix") or ctx.earlier_output("ecs.", "log_stream_prefix")
        container = inputs.get("container") or ctx.earlier_output("ecs.", "container")
        lacking = [n for n, v in (("stream_prefix", prefix), ("container", container)) if not v]
        if lacking:
            raise InputError(
                f"{ctx.uses}: task_ids need {' and '.join(lacking)} to name their log streams "
                "(PREFIX/CONTAINER/TASK_ID), and no earlier ECS step provides them"
            )
        for task_id in dict.fromkeys(task_ids):
            targets.append(StreamTarget(stream_name(prefix, container, task_id), task_id, NEW))
    known = {t.stream for t in targets}
    for name in dict.fromkeys(streams):
        if name not in known:
            task_id = task_id_from_stream(name)
            targets.append(StreamTarget(name, task_id, age_of(task_id, task_ids, ctx)))
    if not targets:
        raise InputError(
            f"{ctx.uses}: say which logs to read: task_ids (with stream_prefix and container), "
            "or streams"
        )
    return targets


def resolve_since(ctx: StepContext, value: Any) -> int:
    """``since`` in epoch ms: the input, else the ECS step's ``started_at``, else the
    run's start (so a marker from an earlier deployment never counts)."""
    if value in (None, ""):
        value = ctx.earlier_output("ecs.", "started_at")
        if value in (None, ""):
            return int(ctx.run_started_at * 1000)
    try:
        return parse_since(value, ctx.clock.time())
    except ValueError as err:
        raise InputError(f"{ctx.uses}: {err}") from None


def check_since(value: Any) -> Any:
    """``Input.check``: reject a bad ``since`` before anything runs."""
    parse_since(value, 0.0)
    return value
