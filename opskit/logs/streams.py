"""Exact awslogs stream names and task ids.

ECS's ``awslogs`` driver names a task's stream ``PREFIX/CONTAINER/TASK_ID``
(``awslogs-stream-prefix``, the container name, the task id). opskit computes
these names instead of discovering streams with DescribeLogStreams, whose
``lastEventTimestamp`` is eventually consistent (new streams can sort as stale
for up to an hour) and which would happily return the OLD task's stream too.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def task_id_of(task: str) -> str:
    """The task id of a task ARN (``arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID``) or id."""
    task = task.strip()
    if task.startswith("arn:"):
        return task.rsplit("/", 1)[-1]
    return task


def stream_name(prefix: str, container: str, task_id: str) -> str:
    """``PREFIX/CONTAINER/TASK_ID`` exactly as the awslogs driver writes it."""
    return f"{prefix.strip('/')}/{container}/{task_id_of(task_id)}"


def task_id_from_stream(stream: str) -> str:
    """The task id in an awslogs stream name; the whole name for other streams."""
    parts = stream.split("/")
    return parts[-1] if len(parts) >= 3 and parts[-1] else stream


def short_id(task_id: str) -> str:
    """The first 8 characters: what the ECS console shows and people paste."""
    return task_id_of(task_id)[:8]
