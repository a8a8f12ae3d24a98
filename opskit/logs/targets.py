"""Stream selection -> the exact streams to read, shared by ``logs.wait`` and ``logs.tail``.

Defaults come from earlier steps' outputs by one rule: output ``NAME`` of the
newest earlier step that has it (outputs are declared, so that is the newest
step whose type declares ``NAME``). ``ecs.redeploy`` declares
``log_stream_prefix``, ``container``, ``started_at``, ``new_task_ids`` and
``old_task_ids``, so a playbook can write just ``task_ids: "{{
steps.redeploy.outputs.new_task_ids }}"``. The caller hands in that lookup
(``earlier``) and a ``label`` for messages, so this layer knows nothing of steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opskit.ecs.names import stream_name, task_id_of
from opskit.errors import InputError
from opskit.logs.selection import StreamSelection
from opskit.logs.streams import NEW, OLD, StreamTarget, task_id_from_stream
from opskit.logs.times import parse_since

# name -> the newest earlier step's output of that name, or None
EarlierOutput = Callable[[str], Any]


def ecs_task_ids(earlier: EarlierOutput, name: str) -> list[str]:
    """``new_task_ids`` / ``old_task_ids`` of the newest earlier ECS step, as ids."""
    return [task_id_of(str(t)) for t in earlier(name) or []]


def age_of(task_id: str, given: list[str], earlier: EarlierOutput) -> str:
    """NEW for the tasks the user asked about; otherwise what the ECS step says."""
    if given:
        return NEW if task_id in given else OLD
    if task_id in ecs_task_ids(earlier, "old_task_ids"):
        return OLD
    return NEW


def resolve_targets(
    selection: StreamSelection,
    earlier: EarlierOutput,
    *,
    label: str,
    default_tasks: bool = True,
) -> list[StreamTarget]:
    """The streams named by ``task_ids`` (+ ``stream_prefix``/``container``) and ``streams``.

    With neither, ``default_tasks`` falls back to the ECS step's ``new_task_ids``.
    Raises ``InputError`` when the stream names cannot be computed.
    """
    streams = list(selection.streams or [])
    given = selection.task_ids
    if given is None and not streams and default_tasks:
        given = earlier("new_task_ids")
    task_ids = [task_id_of(str(t)) for t in given or [] if str(t).strip()]
    if given is not None and not task_ids and not streams:
        raise InputError(f"{label}: task_ids is empty: there is no task to read logs from")

    targets: list[StreamTarget] = []
    if task_ids:
        prefix = selection.stream_prefix or earlier("log_stream_prefix")
        container = selection.container or earlier("container")
        lacking = [n for n, v in (("stream_prefix", prefix), ("container", container)) if not v]
        if lacking:
            raise InputError(
                f"{label}: task_ids need {' and '.join(lacking)} to name their log streams "
                "(PREFIX/CONTAINER/TASK_ID), and no earlier ECS step provides them"
            )
        for task_id in dict.fromkeys(task_ids):
            targets.append(StreamTarget(stream_name(prefix, container, task_id), task_id, NEW))
    known = {t.stream for t in targets}
    for name in dict.fromkeys(streams):
        if name not in known:
            task_id = task_id_from_stream(name)
            targets.append(StreamTarget(name, task_id, age_of(task_id, task_ids, earlier)))
    if not targets:
        raise InputError(
            f"{label}: say which logs to read: task_ids (with stream_prefix and container), "
            "or streams"
        )
    return targets


def resolve_since(
    value: Any, earlier: EarlierOutput, *, now: float, run_started_at: float, label: str
) -> int:
    """``since`` in epoch ms: the input, else the ECS step's ``started_at``, else the
    run's start (so a marker from an earlier deployment never counts)."""
    if value in (None, ""):
        value = earlier("started_at")
        if value in (None, ""):
            return int(run_started_at * 1000)
    try:
        return parse_since(value, now)
    except ValueError as err:
        raise InputError(f"{label}: {err}") from None


def check_since(value: Any) -> Any:
    """``Input.check``: reject a bad ``since`` before anything runs."""
    parse_since(value, 0.0)
    return value
