"""The streams to read: which task each belongs to, and whether it is NEW or OLD.

ECS's ``awslogs`` driver names a task's stream ``PREFIX/CONTAINER/TASK_ID``
(``opskit.ecs.names.stream_name``). opskit computes these names instead of
discovering streams with DescribeLogStreams, whose ``lastEventTimestamp`` is
eventually consistent (new streams can sort as stale for up to an hour) and
which would happily return the OLD task's stream too.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.ecs.names import task_id_of

NEW = "NEW"
OLD = "OLD"


@dataclass(frozen=True)
class StreamTarget:
    """One stream to read, the task it belongs to and whether that task is NEW or OLD."""

    stream: str
    task_id: str
    age: str = NEW

    @property
    def short_id(self) -> str:
        return short_id(self.task_id)


def task_id_from_stream(stream: str) -> str:
    """The task id in an awslogs stream name; the whole name for other streams."""
    parts = stream.split("/")
    return parts[-1] if len(parts) >= 3 and parts[-1] else stream


def short_id(task_id: str) -> str:
    """The first 8 characters: what the ECS console shows and people paste."""
    return task_id_of(task_id)[:8]
