"""The state file through which runs and ``opskit sandbox status|down`` find a
running sandbox.

``$OPSKIT_SANDBOX_STATE`` if set, else ``$XDG_STATE_HOME/opskit/sandbox.json``
(``~/.local/state/opskit/sandbox.json`` by default). Written atomically (a
reader never sees half a file) and only once the sandbox is ready; readable by
its owner only (mode 0600): it holds the keys of the sandbox's own IAM user.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

STATE_ENV = "OPSKIT_SANDBOX_STATE"


def state_path() -> Path:
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "opskit" / "sandbox.json"


def log_path() -> Path:
    """Where a background sandbox writes its own output (next to the state file)."""
    path = state_path()
    return path.with_name(path.stem + ".log")


def bedrock_faults_path() -> Path:
    """The faults of the Bedrock endpoint of a background sandbox (next to the state
    file; ``opskit sandbox fault`` writes it, the endpoint re-reads it on change)."""
    path = state_path()
    return path.with_name(path.stem + "-bedrock-faults.json")


def aws_faults_path() -> Path:
    """The AWS faults (ECS, CloudWatch Logs) of a background sandbox, next to the state
    file (``opskit sandbox fault ecs|logs`` writes it; the sandbox re-reads it on change)."""
    path = state_path()
    return path.with_name(path.stem + "-aws-faults.json")


def read_state() -> dict[str, Any] | None:
    """The recorded state, or ``None`` when there is no (readable) file. A file
    another user owns, or that others may read or write, is not this user's
    sandbox (another user could plant one naming their own endpoint): ignored."""
    path = state_path()
    try:
        status = path.stat()
        if status.st_uid != os.geteuid() or status.st_mode & 0o077:
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def write_state(document: dict[str, Any]) -> Path:
    path = state_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the folder, its owner's alone
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # a crashed writer's leftover: the mode is set only on creation
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path


def remove_state(*, only_pid: int | None = None) -> None:
    """Remove the file; with ``only_pid``, only if it still names that process
    (so a stopping sandbox never deletes the file of one started after it)."""
    if only_pid is not None:
        current = read_state()
        if current is not None and current.get("pid") != only_pid:
            return
    with contextlib.suppress(FileNotFoundError):
        state_path().unlink()
