"""Clocks for tests of wait loops: no test of a wait sleeps for real.

``ScriptedClock`` plays one scenario move at each sleep of the loop under test
(an ECS rollout move, log lines arriving, Ctrl-C), so the loop sees the world
change between two polls exactly as the script says, whatever the machine's
speed.
"""

from __future__ import annotations

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
