"""The names ECS gives a task and its logs, computed in one place.

A leaf module (it imports nothing from opskit), so the steps, the ECS and Logs
pieces and the sandbox all read the same rules:

- a task ARN ends in its id, in the old format (``task/ID``) and the long one
  (``task/CLUSTER/ID``) alike;
- the ``awslogs`` driver names a container's stream ``PREFIX/CONTAINER/TASK_ID``
  (``awslogs-stream-prefix``, the container's name, the task id);
- a task definition ARN ends in ``family:revision``.

It also counts them for the ECS pieces' messages (``plural``), which cannot live
in ``watch`` as ``watch`` imports ``stops`` and ``placement``.
"""

from __future__ import annotations


def task_id_of(task: str) -> str:
    """The task id of a task ARN (``arn:aws:ecs:REGION:ACCOUNT:task/[CLUSTER/]ID``);
    anything else is taken as an id already (surrounding blanks removed)."""
    task = task.strip()
    if task.startswith("arn:"):
        return task.rsplit("/", 1)[-1]
    return task


def stream_name(prefix: str, container: str, task: str) -> str:
    """``PREFIX/CONTAINER/TASK_ID`` exactly as the awslogs driver writes it; ``task``
    is a task id or ARN."""
    return f"{prefix.strip('/')}/{container}/{task_id_of(task)}"


def short_task_definition(arn: str) -> str:
    """``family:revision`` from a task definition ARN (unchanged if already short)."""
    return arn.rsplit("/", 1)[-1] if arn else ""


def plural(count: int, noun: str) -> str:
    """``1 task``, ``2 tasks``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
