"""The vocabulary of the sandbox's native play (``native_play``): the lifecycle
stages in botocore's order, one service deployment's progress, how production
traffic moves for each strategy, and how new connections split between blue
and green."""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from typing import Any

from opskit.ecs.service_deployments import STAGES

# The stages during which ECS watches the deployment's alarms (traffic reaches green).
ALARMED = frozenset(STAGES[STAGES.index("TEST_TRAFFIC_SHIFT") : STAGES.index("CLEAN_UP")])
WATCHED = frozenset(STAGES[STAGES.index("SCALE_UP") : STAGES.index("CLEAN_UP")])
STAGE_DWELL = 0.15  # sandbox minutes: 0.3 s by default (a poll of the agent at least)
SCHEDULER = "ServiceSchedulerInitiated"


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass
class Run:
    """One service deployment as the play follows it."""

    arn: str
    green: str  # the ecs-svc deployment id of the target revision
    blue: list[str]  # the ecs-svc deployment ids of the source revisions
    stage: str = ""
    entered: float = 0.0
    steps: list[float] = field(default_factory=list)  # production percents still to shift
    step_at: float = 0.0  # when the last step shifted
    paused: set[str] = field(default_factory=set)  # stages whose PAUSE hooks ran
    hook_id: str | None = None
    hook_due: float = 0.0
    rollback: bool = False
    stages: list[str] = field(default_factory=list)  # entered, in order


class Router:
    """Where each new connection of a listener goes: green for ``weight`` percent
    of them, spread evenly (not at random, so a test reads 30% as 3 in 10)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.weights = {"production": 0.0, "test": 0.0}
        self._sent = {"production": [0, 0], "test": [0, 0]}  # [connections, to green]

    def set(self, production: float, test: float) -> None:
        with self._lock:
            for listener, weight in (("production", production), ("test", test)):
                if self.weights[listener] != weight:
                    self.weights[listener] = weight
                    self._sent[listener] = [0, 0]

    def green_next(self, listener: str) -> bool:
        with self._lock:
            sent = self._sent[listener]
            sent[0] += 1
            if sent[1] < round(self.weights[listener] * sent[0] / 100):
                sent[1] += 1
                return True
            return False


def production_steps(configuration: dict[str, Any]) -> list[float]:
    """The production shares green gets, in order: BLUE_GREEN all at once, LINEAR
    ``stepPercent`` a step, CANARY ``canaryPercent`` then the rest."""
    strategy = configuration.get("strategy")
    if strategy == "LINEAR":
        step = float((configuration.get("linearConfiguration") or {}).get("stepPercent") or 100)
        steps, share = [], step
        while share < 100:
            steps.append(share)
            share += step
        return [*steps, 100.0]
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        return [float(canary.get("canaryPercent") or 100), 100.0]
    return [100.0]


def step_bake_minutes(configuration: dict[str, Any]) -> float:
    """How long each step but the last bakes (LINEAR, CANARY)."""
    strategy = configuration.get("strategy")
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        return float(linear.get("stepBakeTimeInMinutes") or 0)
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        return float(canary.get("canaryBakeTimeInMinutes") or 0)
    return 0.0
