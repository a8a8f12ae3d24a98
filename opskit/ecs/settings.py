"""What a service's ``deploymentConfiguration`` says about how ECS rolls it out.

Read as botocore's ECS model names the fields: ``strategy`` (``ROLLING``,
``BLUE_GREEN``, ``LINEAR``, ``CANARY``; absent means ``ROLLING``),
``bakeTimeInMinutes`` and ``alarms`` (``alarmNames``, ``enable``, ``rollback``).

- ``ROLLING`` deployments are followed through DescribeServices' deployments
  (``wait``); the others (ECS-native since 2025) shift traffic between two
  service revisions in stages, and reading them as a rolling update would call
  a half-shifted deployment a success: ECS's service deployment record decides
  for them (``native``, ``native_follow``).
- With a bake time or deployment alarms, ECS keeps a deployment IN_PROGRESS
  after its new tasks are healthy and the old ones are gone, watching the alarms
  ("How CloudWatch alarms detect Amazon ECS deployment failures": with alarms
  only, ECS computes that bake time from the alarms' configuration and it
  cannot be read). The progress line says so, and the step's own time limit
  counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.clock import Clock, Deadline
from opskit.durations import format_duration

ROLLING = "ROLLING"
# The step's wait when the playbook sets no ``timeout:`` (plus the bake time).
DEFAULT_WAIT = 30 * 60.0
# Time a rollout needs besides the bake: tasks start, pass health checks, old ones drain.
ROLLOUT_MARGIN = 5 * 60.0


def minutes(seconds: float) -> str:
    """``35m`` for whole minutes, else the usual short form."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return format_duration(seconds)


@dataclass(frozen=True)
class RolloutConfig:
    """The parts of ``deploymentConfiguration`` that change how a rollout is followed."""

    strategy: str = ROLLING
    bake_minutes: int = 0  # bakeTimeInMinutes; 0 when not set
    alarms: tuple[str, ...] = ()  # deployment alarms, when they are enabled

    @classmethod
    def of(cls, service: dict[str, Any]) -> RolloutConfig:
        config = service.get("deploymentConfiguration") or {}
        alarms = config.get("alarms") or {}
        enabled = bool(alarms.get("enable"))
        names = tuple(str(n) for n in alarms.get("alarmNames") or []) if enabled else ()
        return cls(
            strategy=str(config.get("strategy") or ROLLING),
            bake_minutes=int(config.get("bakeTimeInMinutes") or 0),
            alarms=names,
        )

    @property
    def bake_seconds(self) -> float:
        return self.bake_minutes * 60.0

    def baking(self) -> str:
        """What ECS does between healthy new tasks and COMPLETED ('' when nothing):
        ``ECS bakes for 5m (alarms X, Y)``."""
        alarms = ", ".join(self.alarms)
        if self.bake_minutes:
            return f"ECS bakes for {self.bake_minutes}m" + (f" (alarms {alarms})" if alarms else "")
        if alarms:
            return f"ECS watches alarms {alarms} for a bake time it computes from them"
        return ""


@dataclass(frozen=True)
class WaitLimit:
    """How long the step follows a deployment, and how a timeout says it."""

    deadline: Deadline
    within: str  # "before the step's timeout", or the default wait it chose
    warning: str = ""  # set when the playbook's timeout cannot cover the bake time


def wait_limit(clock: Clock, deadline: Deadline, config: RolloutConfig) -> WaitLimit:
    """The playbook's ``timeout:`` when it set one, else ``DEFAULT_WAIT`` plus the
    bake time; a warning when that timeout is shorter than the bake time plus
    ``ROLLOUT_MARGIN`` (the deployment cannot reach COMPLETED before it)."""
    remaining = deadline.remaining()
    if remaining is None:
        seconds = DEFAULT_WAIT + config.bake_seconds
        why = "set timeout: to wait longer"
        if config.bake_seconds:
            bake = minutes(config.bake_seconds)
            why = f"{minutes(DEFAULT_WAIT)}, plus ECS's bake time {bake}; {why}"
        within = f"within the step's default wait of {minutes(seconds)} ({why})"
        return WaitLimit(Deadline.after(clock, seconds), within)
    warning = ""
    if config.bake_seconds and remaining < config.bake_seconds + ROLLOUT_MARGIN:
        warning = (
            f"the step's timeout ({format_duration(remaining)}) is shorter than ECS's bake "
            f"time ({minutes(config.bake_seconds)}) plus {minutes(ROLLOUT_MARGIN)} for the "
            "rollout: the deployment cannot reach COMPLETED in time (raise timeout:)"
        )
    return WaitLimit(deadline, "before the step's timeout", warning)
