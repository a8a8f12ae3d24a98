"""What the sandbox's Fargate does with a task started by RunTask.

The sandbox's "image" is this interpreter with the bundled stack: a container
command's ``python``/``python3`` is ``sys.executable``, and a path under
``/opt/chatbot/`` (where the stack's image keeps ``entrypoint.py``) is the
stack folder (``opskit/stack/``; ``entrypoint.py`` is the sandbox's own
entrypoint, the stand-in in fast tests). The sandbox's registry holds only the
images whose repository starts with ``opskit-sandbox/`` (``server.IMAGE`` is
one): any other image cannot be pulled, and the task stops before RUNNING with
``TaskFailedToStart`` and ECS's words for it. Service tasks are not checked:
they run the stack whatever image their revision names (a redeploy's ``image:``
deploys in the sandbox where AWS would fail to pull it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from opskit.sandbox.server import STACK_DIR

LOCAL_REGISTRY = "opskit-sandbox/"
IMAGE_ROOT = "/opt/chatbot/"


def pullable(image: str) -> bool:
    return image.startswith(LOCAL_REGISTRY)


def pull_failed(image: str) -> str:
    """``stoppedReason`` of a task whose image cannot be pulled, as Fargate words it."""
    return (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {image}: not found"
    )


def local_command(command: list[str], entrypoint: Path) -> list[str]:
    """The container's command as this machine runs it."""
    out = []
    for part in command:
        if part in ("python", "python3"):
            out.append(sys.executable)
        elif part == f"{IMAGE_ROOT}entrypoint.py":
            out.append(str(entrypoint))
        elif part.startswith(IMAGE_ROOT):
            out.append(str(STACK_DIR / part[len(IMAGE_ROOT) :]))
        else:
            out.append(part)
    return out
