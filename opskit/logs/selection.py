"""What ``logs.wait`` and ``logs.tail`` share: which streams to read, and the live view.

Both steps name their logs the same way (task ids, or exact stream names), so
the inputs are declared once here and each step's inputs dataclass extends
``StreamSelection``.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.events import Emit
from opskit.inputs import param
from opskit.logs.calls import Note
from opskit.logs.reader import LogLine
from opskit.logs.streams import StreamTarget


def positive(value: float) -> float:
    """An ``Input.check`` for intervals: a poll every 0 s would spin."""
    if value <= 0:
        raise ValueError(f"expected a duration above 0, got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class StreamSelection:
    task_ids: list[str] | None = param(
        "Task ids or ARNs whose logs to read; default: new_task_ids of the newest earlier "
        "step that has it (ecs.redeploy).",
        "string_list",
    )
    stream_prefix: str | None = param(
        "awslogs-stream-prefix of the task definition; default: log_stream_prefix of the "
        "newest earlier step that has it (ecs.redeploy).",
        "string",
    )
    container: str | None = param(
        "Container name in the stream; default: container of the newest earlier step that "
        "has it (ecs.redeploy).",
        "string",
    )
    streams: list[str] | None = param(
        "Exact log stream names to read, besides task_ids.", "string_list"
    )


def emit_line(emit: Emit, target: StreamTarget, line: LogLine) -> None:
    """The live view: one ``log`` event per line (the reporter prefixes the short
    task id and NEW/OLD; ``--quiet`` hides them)."""
    emit(
        "log",
        line.text,
        task_id=target.task_id,
        short_id=target.short_id,
        age=target.age,
        timestamp=line.timestamp,
        stream=line.stream,
    )


def emit_notes(emit: Emit, notes: list[Note]) -> None:
    """What the reader has to say (throttling began or ended), as events."""
    for note in notes:
        emit(note.kind, note.message)
