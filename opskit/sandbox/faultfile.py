"""A running sandbox's faults as a JSON file, ``{"faults": [...]}``.

``opskit sandbox fault ...`` writes it from another process; the sandbox re-reads
it when it changes (a stat tells: inode, mtime, size), so faults switch while it
runs, and editing the file by hand works too. Bedrock's faults and AWS's (ECS,
CloudWatch Logs) each have one such file next to the state file; what a fault is
belongs to each (``parse``/``to_json``/``key``), the file mechanics are here,
watching it for changes included (``reset``, ``changed``), and finding the
running sandbox whose file a command switches (``running_sandbox``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

F = TypeVar("F")
log = logging.getLogger("opskit.sandbox")


class FaultInvalid(ValueError):
    """A fault that cannot be set; ``str()`` says which part and why."""


class FaultsFile(Generic[F]):
    """Read, write and watch one faults file. One fault per ``key``: the latest wins."""

    def __init__(
        self,
        path: Path,
        *,
        parse: Callable[[Any], F],
        to_json: Callable[[F], dict[str, Any]],
        key: Callable[[F], str],
        what: str = "faults file",
    ):
        self.path = path
        self.what = what  # how a warning names it: "AWS faults file"
        self._parse = parse
        self._to_json = to_json
        self._key = key
        self._seen: tuple[int, int, int] | None = None  # the version last looked at
        self._seen_lock = threading.Lock()

    def read(self) -> list[F]:
        """The faults in the file (none when it is missing); ``FaultInvalid`` on a
        file that cannot be used, naming it."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            document = json.loads(text) if text.strip() else {"faults": []}
        except ValueError as err:
            raise FaultInvalid(f"{self.path}: not valid JSON ({err})") from None
        items = document.get("faults") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise FaultInvalid(f'{self.path}: expected {{"faults": [...]}}')
        faults: dict[str, F] = {}
        for index, item in enumerate(items):
            try:
                fault = self._parse(item)
            except FaultInvalid as err:
                raise FaultInvalid(f"{self.path}: faults[{index}]: {err}") from None
            faults[self._key(fault)] = fault
        return list(faults.values())

    def write(self, faults: list[F]) -> None:
        """Atomically: the sandbox never reads half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"faults": [self._to_json(fault) for fault in faults]}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)

    def set(self, fault: F) -> list[F]:
        """Add ``fault`` (replacing the one with its key); every fault afterwards."""
        faults = [f for f in self.read() if self._key(f) != self._key(fault)] + [fault]
        self.write(faults)
        return faults

    def retain(self, keep: Callable[[F], bool] | None) -> list[F]:
        """Remove every fault but those ``keep`` accepts (``None``: every fault,
        even from a file that cannot be read); the faults left."""
        faults = [f for f in self.read() if keep(f)] if keep is not None else []
        self.write(faults)
        return faults

    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever the file is replaced or edited; ``None`` when missing."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def reset(self) -> None:
        """A new sandbox starts with no fault: the file emptied, and taken as seen."""
        self.write([])
        self._seen = self.version()

    def changed(self) -> list[F] | None:
        """The faults in the file when it changed since the last look (one stat
        tells), else ``None``. A file that cannot be used is logged and reads as
        unchanged: the faults in force stay until it is fixed."""
        version = self.version()
        if version == self._seen:
            return None
        with self._seen_lock:
            if version == self._seen:
                return None
            self._seen = version
            try:
                return self.read()
            except FaultInvalid as err:
                log.warning("%s ignored, previous faults kept: %s", self.what, err)
                return None

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


__all__ = ["FaultInvalid", "FaultsFile"]


def running_sandbox(plays: Callable[[Any], bool], what: str) -> Any:
    """The background sandbox (``SandboxInfo``) whose faults ``opskit sandbox
    fault`` switches; ``SandboxError`` when none runs, or when it was started by
    an older opskit and ``plays`` says it lacks ``what``."""
    from opskit.sandbox import find_running
    from opskit.sandbox.errors import SandboxError

    info = find_running()
    if info is None:
        raise SandboxError(
            "no sandbox running: faults are switched on a sandbox started with `opskit sandbox up`"
        )
    if not plays(info):
        raise SandboxError(
            f"the sandbox (pid {info.pid}) {what}: it was started by an older opskit; "
            "restart it (opskit sandbox down && opskit sandbox up)"
        )
    return info
