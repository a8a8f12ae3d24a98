"""Clocks for tests of wait loops: no test of a wait sleeps for real.

``ScriptedClock`` plays one scenario move at each sleep of the loop under test
(an ECS rollout move, log lines arriving, Ctrl-C), so the loop sees the world
change between two polls exactly as the script says, whatever the machine's
speed.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opskit.clock import FakeClock


@dataclass
class ScriptedClock(FakeClock):
    """A ``FakeClock`` whose every sleep plays the next scenario move first."""

    script: list[Callable[[], None]] = field(default_factory=list)

    def sleep(self, seconds: float, cancel: Any = None) -> None:
        super().sleep(seconds, cancel)
        if self.script:
            self.script.pop(0)()


@dataclass
class CtrlCClock(FakeClock):
    """A ``FakeClock`` on which the user presses Ctrl-C once ``asleep`` steps are
    sleeping (a fleet's targets, each in its own thread): SIGINT to this process,
    as a terminal sends it. Those sleeps return once the run's handler has
    cancelled their step (then ``FakeClock.sleep`` raises ``Cancelled``)."""

    asleep: int = 1
    pressed: bool = False
    _sleepers: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sleep(self, seconds: float, cancel: Any = None) -> None:
        with self._lock:
            self._sleepers += 1
            waits = self._sleepers <= self.asleep
            press = self._sleepers == self.asleep
        if press:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
        if waits:
            assert cancel is not None and cancel.wait(30), "the run never saw the Ctrl-C"
        super().sleep(seconds, cancel)


@dataclass
class LimitedClock(FakeClock):
    """A ``FakeClock`` that fails the test once the loop under test has slept
    ``limit`` seconds in all: a wait that would never end fails, with how long
    it had waited, instead of hanging the suite."""

    limit: float = 3600.0

    def sleep(self, seconds: float, cancel: Any = None) -> None:
        waited = sum(self.sleeps) + max(0.0, seconds)
        if waited > self.limit:
            raise AssertionError(f"still waiting after {waited:.0f} s on the test's clock")
        super().sleep(seconds, cancel)
