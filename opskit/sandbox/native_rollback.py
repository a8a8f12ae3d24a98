"""When and how the sandbox rolls a native service deployment back, as ECS does:
asked through the API (ContinueServiceDeployment ROLLBACK at a hook,
StopServiceDeployment ROLLBACK), a deployment alarm in ALARM while traffic
reaches green, or green tasks crash-looping under the circuit breaker's
rollback. Both listeners go back to blue at once, green is stopped, and the
deployment ends ROLLBACK_SUCCESSFUL once blue serves alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opskit.sandbox.native_config import alarm_states
from opskit.sandbox.native_stages import SCHEDULER, Router, Run, now_utc

if TYPE_CHECKING:
    from opskit.sandbox.agent import Agent


class Rollbacks:
    """The rollback half of ``NativePlay`` (which provides these attributes)."""

    native: Any
    ecs: Any
    router: Router
    region: str
    account_id: str
    _green_port: int | None
    _configuration: Callable[[], dict[str, Any]]
    _finish: Callable[..., None]
    _hook: Callable[[dict[str, Any], str | None], dict[str, Any] | None]
    _deployment: Callable[[str], dict[str, Any] | None]

    def _requested_reason(self, run: Run, record: dict[str, Any]) -> str:
        answered = self._hook(record, run.hook_id) if run.hook_id else None
        if answered is not None:
            return (
                f"Rollback requested through ContinueServiceDeployment at lifecycle hook "
                f"{run.hook_id} ({run.stage})."
            )
        return f"Rollback requested through StopServiceDeployment during {run.stage}."

    def _circuit_breaker(self, agent: Agent, run: Run) -> bool:
        breaker = self._configuration().get("deploymentCircuitBreaker") or {}
        failed = agent.failures[run.green]
        if not breaker.get("enable"):
            return False
        record = self.native.get(run.arn) or {}
        monitor = dict(record.get("deploymentCircuitBreaker") or {})
        if monitor.get("failureCount") != failed:
            self.native.update(run.arn, deploymentCircuitBreaker=dict(monitor, failureCount=failed))
        if failed < agent.failure_threshold:
            return False
        if not breaker.get("rollback"):
            return False  # ECS keeps trying: the deployment stays IN_PROGRESS
        self.native.update(
            run.arn, deploymentCircuitBreaker=dict(monitor, failureCount=failed, status="TRIGGERED")
        )
        reason = (
            f"ECS deployment circuit breaker: {failed} tasks failed to start "
            f"(threshold {agent.failure_threshold})."
        )
        self._roll_back(agent, run, record, reason)
        return True

    def _alarm(self, agent: Agent, run: Run, record: dict[str, Any]) -> bool:
        alarms = self._configuration().get("alarms") or {}
        if not alarms.get("enable"):
            return False
        states = alarm_states(list(alarms.get("alarmNames") or []), self.region, self.account_id)
        fired = [name for name, (state, _) in states.items() if state == "ALARM"]
        if not fired:
            return False
        monitor = dict(record.get("alarms") or {})
        if monitor.get("triggeredAlarmNames") != fired:
            self.native.update(
                run.arn, alarms=dict(monitor, status="TRIGGERED", triggeredAlarmNames=fired)
            )
        if not alarms.get("rollback"):
            return False
        said = "; ".join(f"{name}: {states[name][1]}" for name in fired)
        reason = f"CloudWatch alarm(s) in ALARM state during {run.stage}: {said}"
        self._roll_back(agent, run, record, reason)
        return True

    def _roll_back(self, agent: Agent, run: Run, record: dict[str, Any], reason: str) -> None:
        """ROLLBACK_IN_PROGRESS: both listeners back on blue now, green stopped."""
        run.rollback, run.hook_id = True, None
        sources = record.get("sourceServiceRevisions") or [{}]
        self.native.update(
            run.arn,
            status="ROLLBACK_IN_PROGRESS",
            statusReason=reason,
            rollback={
                "reason": reason,
                "startedAt": now_utc(),
                "serviceRevisionArn": sources[0].get("arn", ""),
            },
        )
        self.native.set_traffic(run.arn, production=0, test=0)
        self.router.set(0, 0)
        self._green_port = None
        self.ecs.update_deployment(
            run.green, rolloutState="FAILED", rolloutStateReason=reason, desiredCount=0
        )
        if run.blue:
            self.ecs.promote(run.blue[0])
            self.ecs.add_event(f"rolling back to deployment {run.blue[0]}.")
        by = run.blue[0] if run.blue else run.green
        stop = f"Scaling activity initiated by (deployment {by})"
        for task in agent.tasks_of(run.green):
            if task.stop_reason is None:
                agent.stop_task(task, stop, SCHEDULER)

    def _rolling_back(self, agent: Agent, run: Run) -> None:
        for blue in run.blue[:1]:
            deployment = self._deployment(blue)
            if deployment is not None:
                agent.launch_missing(deployment)
        if agent.tasks_of(run.green) or not any(agent.healthy_of(b) for b in run.blue):
            return
        reason = (self.native.get(run.arn) or {}).get("statusReason") or ""
        self._finish(run, "ROLLBACK_SUCCESSFUL", statusReason=reason)
