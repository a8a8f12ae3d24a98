"""The sandbox's play of ECS's native deployment strategies (BLUE_GREEN, LINEAR,
CANARY) for one service: who moves a service deployment through its stages,
and when.

The API side (the records, ContinueServiceDeployment, StopServiceDeployment) is
``moto_service_deployments``; this module is the scheduler that AWS runs
behind it, in the order AWS documents ("Amazon ECS blue/green deployments",
"linear", "canary" in the developer guide):

RECONCILE_SERVICE -> PRE_SCALE_UP -> SCALE_UP (green tasks start beside blue)
-> POST_SCALE_UP -> TEST_TRAFFIC_SHIFT (the test listener goes to green) ->
POST_TEST_TRAFFIC_SHIFT (a PAUSE hook waits there for ContinueServiceDeployment,
or its timeout's action) -> PRODUCTION_TRAFFIC_SHIFT (BLUE_GREEN all at once;
LINEAR stepPercent a step, CANARY canaryPercent then the rest, each step
followed by its step bake time) -> POST_PRODUCTION_TRAFFIC_SHIFT -> BAKE_TIME
-> CLEAN_UP (blue drained and stopped) -> SUCCESSFUL.

A rollback (asked through the API, a deployment alarm in ALARM from the test
traffic shift to the end of bake time, or green tasks crash-looping under the
circuit breaker) is ROLLBACK_IN_PROGRESS: both listeners back to blue, green
stopped, then ROLLBACK_SUCCESSFUL with ``rollback.reason``. Without the circuit
breaker's rollback, a crash loop leaves the deployment IN_PROGRESS while ECS
keeps starting green tasks.

Times are in sandbox minutes (``native_config.minute_seconds``); every stage
lasts at least ``STAGE_DWELL`` minutes, so a reader polling every few seconds of
real AWS time (a fraction of a second here) sees each one.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opskit.ecs.service_deployments import FINISHED, STAGES
from opskit.sandbox.native_rollback import Rollbacks
from opskit.sandbox.native_stages import (
    ALARMED,
    SCHEDULER,
    STAGE_DWELL,
    WATCHED,
    Router,
    Run,
    now_utc,
    production_steps,
    step_bake_minutes,
)

if TYPE_CHECKING:
    from opskit.sandbox.agent import Agent

__all__ = ["STAGES", "NativePlay", "Router"]


class NativePlay(Rollbacks):
    """Plays the service deployments of one service (``records``: its
    ``NativeRecords``; ``ecs``: its ``EcsRecords``) on the agent's tasks."""

    def __init__(
        self,
        ecs: Any,
        *,
        minute: float,
        region: str,
        account_id: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.ecs = ecs
        self.minute = minute
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.router = Router()
        self._run: Run | None = None
        self._blue_port: int | None = None
        self._green_port: int | None = None
        self.history: dict[str, list[str]] = {}  # arn -> stages entered, in order

    @property
    def native(self) -> Any:
        return self.ecs.native

    # -- what the agent asks -------------------------------------------------------

    def routing(self) -> bool:
        return self._run is not None

    def route(self, listener: str) -> int | None:
        blue, green = self._blue_port, self._green_port
        if green is not None and (blue is None or self.router.green_next(listener)):
            return green
        return blue

    def tick(self, agent: Agent) -> bool:
        run = self._run
        if run is None:
            run = self._begin(agent)
            if run is None:
                return False
        try:
            record = self.native.get(run.arn)
        except KeyError:  # moto was reset under it
            self._run = None
            return False
        self._serve(agent, run)
        status = record["status"]
        if status == "ROLLBACK_REQUESTED" and not run.rollback:
            self._roll_back(agent, run, record, self._requested_reason(run, record))
        elif status == "STOP_REQUESTED":
            self._stopped(run)
            return False
        elif run.rollback:
            self._rolling_back(agent, run)
        else:
            self._forward(agent, run, record)
        self._count(agent, run)
        return True

    # -- starting and ending ---------------------------------------------------------

    def _begin(self, agent: Agent) -> Run | None:
        record = self.native.current()
        if record is None or record["serviceDeploymentArn"] in self.history:
            return None
        if record.get("status") in FINISHED:
            return None
        arn = str(record["serviceDeploymentArn"])
        green = self.native.ecs_deployment_id(arn)
        deployments = self.ecs.deployments()
        blue = [
            d["id"] for d in deployments if d["id"] != green and d.get("rolloutState") != "FAILED"
        ]
        run = Run(arn, green, blue)
        self._run = run
        self.history[run.arn] = run.stages
        configuration = self._configuration()
        breaker = configuration.get("deploymentCircuitBreaker") or {}
        alarms = configuration.get("alarms") or {}
        with self.native.lock:  # a rollback or stop asked already stays asked
            if self.native.get(arn)["status"] == "PENDING":
                self.native.update(arn, status="IN_PROGRESS")
        self.native.update(
            run.arn,
            startedAt=now_utc(),
            deploymentCircuitBreaker={
                "status": "MONITORING" if breaker.get("enable") else "DISABLED",
                "failureCount": 0,
                "threshold": agent.failure_threshold,
            },
            alarms={
                "status": "MONITORING" if alarms.get("enable") else "DISABLED",
                "alarmNames": list(alarms.get("alarmNames") or []),
                "triggeredAlarmNames": [],
            },
        )
        self._enter(run, "RECONCILE_SERVICE")
        return run

    def _finish(self, run: Run, status: str, **fields: Any) -> None:
        self.native.update(run.arn, status=status, finishedAt=now_utc(), **fields)
        self._run = None
        self._blue_port = self._green_port = None

    def _stopped(self, run: Run) -> None:
        """StopServiceDeployment ABORT: ECS stops moving it and leaves both revisions."""
        self._finish(run, "STOPPED", statusReason="Service deployment stopped by request.")

    # -- forward ---------------------------------------------------------------------

    def _enter(self, run: Run, stage: str) -> None:
        run.stage, run.entered = stage, self.clock()
        run.stages.append(stage)
        self.native.update(run.arn, lifecycleStage=stage)

    def _dwelt(self, run: Run, minutes: float = STAGE_DWELL) -> bool:
        return self.clock() - run.entered >= minutes * self.minute

    def _next(self, run: Run) -> None:
        self._enter(run, STAGES[STAGES.index(run.stage) + 1])

    def _forward(self, agent: Agent, run: Run, record: dict[str, Any]) -> None:
        if run.stage in WATCHED and self._circuit_breaker(agent, run):
            return
        if run.stage in ALARMED and self._alarm(agent, run, record):
            return
        if run.hook_id is not None:
            self._await_hook(agent, run, record)
            return
        stage = run.stage
        if stage == "SCALE_UP":
            green = self._deployment(run.green)
            if green is not None:
                agent.launch_missing(green)
            if green is None or len(agent.healthy_of(run.green)) < green["desiredCount"]:
                return
        elif stage == "PRODUCTION_TRAFFIC_SHIFT":
            if not self._shift_production(run):
                return
        elif stage == "BAKE_TIME":
            if not self._dwelt(run, float(self._configuration().get("bakeTimeInMinutes") or 0)):
                return
        elif stage == "CLEAN_UP":
            self._clean_up(agent, run)
            return
        if not self._dwelt(run):
            return
        if self._pause_here(run):
            return
        self._next(run)
        if run.stage == "TEST_TRAFFIC_SHIFT":
            self.native.set_traffic(run.arn, production=0, test=100)
            self.router.set(0, 100)
        elif run.stage == "PRODUCTION_TRAFFIC_SHIFT":
            run.steps = production_steps(self._configuration())
            run.step_at = -1.0
        elif run.stage == "CLEAN_UP":
            self._start_clean_up(agent, run)

    def _shift_production(self, run: Run) -> bool:
        """One step when the last one has baked; True once production is all on green."""
        now = self.clock()
        if (
            run.step_at >= 0
            and now - run.step_at < step_bake_minutes(self._configuration()) * self.minute
        ):
            return False
        if not run.steps:
            return True
        share = run.steps.pop(0)
        run.step_at = now
        self.native.set_traffic(run.arn, production=share, test=100)
        self.router.set(share, 100)
        if share < 100:
            return False
        run.entered = now  # the dwell after the last step
        return True

    def _start_clean_up(self, agent: Agent, run: Run) -> None:
        """Blue drained: its tasks stopped, its ecs-svc deployments gone, green COMPLETED."""
        reason = f"Scaling activity initiated by (deployment {run.green})"
        draining = [t for b in run.blue for t in agent.tasks_of(b) if t.stop_reason is None]
        if draining:
            self.ecs.add_event(f"has begun draining connections on {len(draining)} tasks.")
        for task in draining:
            agent.stop_task(task, reason, SCHEDULER)

    def _clean_up(self, agent: Agent, run: Run) -> None:
        if any(agent.tasks_of(b) for b in run.blue) or not self._dwelt(run):
            return
        for blue in run.blue:
            self.ecs.remove_deployment(blue)
        self.ecs.complete(run.green)
        self.ecs.add_event("has reached a steady state.")
        self._finish(
            run,
            "SUCCESSFUL",
            statusReason="Service deployment completed successfully.",
            **self._monitors_complete(),
        )

    def _monitors_complete(self) -> dict[str, Any]:
        record = self.native.get(self._run.arn) if self._run else None
        fields: dict[str, Any] = {}
        for name in ("deploymentCircuitBreaker", "alarms"):
            monitor = dict((record or {}).get(name) or {})
            if monitor.get("status") == "MONITORING":
                fields[name] = dict(monitor, status="MONITORING_COMPLETE")
        return fields

    # -- PAUSE hooks -------------------------------------------------------------------

    def _pause_here(self, run: Run) -> bool:
        """At the end of a stage that a PAUSE hook names: pause (once)."""
        if run.stage in run.paused:
            return False
        for hook in self._configuration().get("lifecycleHooks") or []:
            stages = hook.get("lifecycleStages") or []
            if hook.get("targetType") == "PAUSE" and run.stage in stages:
                run.paused.add(run.stage)
                run.hook_id = self.native.pause(run.arn, run.stage)
                timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes") or 1440
                run.hook_due = self.clock() + float(timeout) * self.minute
                self._set_hook(run, expiresAt=now_utc() + datetime.timedelta(
                    seconds=float(timeout) * self.minute
                ))  # fmt: skip
                return True
        return False

    def _await_hook(self, agent: Agent, run: Run, record: dict[str, Any]) -> None:
        hook = self._hook(record, run.hook_id)
        if hook is None or hook.get("status") != "AWAITING_ACTION":
            run.hook_id = None  # answered CONTINUE (a ROLLBACK shows in the status)
            run.entered = self.clock() - STAGE_DWELL * self.minute
            return
        if self.clock() < run.hook_due:
            return
        action = str(hook.get("timeoutAction") or "ROLLBACK")
        self.native.set_hook(run.arn, str(run.hook_id), "TIMED_OUT")
        hook_id, run.hook_id = run.hook_id, None
        if action == "ROLLBACK":
            reason = f"Lifecycle hook {hook_id} at {run.stage} timed out (timeout action ROLLBACK)."
            self._roll_back(agent, run, record, reason)

    @staticmethod
    def _hook(record: dict[str, Any], hook_id: str | None) -> dict[str, Any] | None:
        details = record.get("lifecycleHookDetails") or []
        return next((h for h in details if h.get("hookId") == hook_id), None)

    def _set_hook(self, run: Run, **fields: Any) -> None:
        record = self.native.get(run.arn) or {}
        details = [
            dict(h, **fields) if h.get("hookId") == run.hook_id else h
            for h in record.get("lifecycleHookDetails") or []
        ]
        self.native.update(run.arn, lifecycleHookDetails=details)

    # -- helpers -----------------------------------------------------------------------

    def _serve(self, agent: Agent, run: Run) -> None:
        """The blue and green task a new connection may go to (healthy ones only)."""
        blue = [t for b in run.blue for t in agent.healthy_of(b)]
        green = [] if run.rollback else agent.healthy_of(run.green)
        self._blue_port = blue[0].port if blue else None
        self._green_port = green[0].port if green else None

    def _count(self, agent: Agent, run: Run) -> None:
        green = self._deployment(run.green) or {}
        desired = int(green.get("desiredCount") or 0)
        live_green = [t for t in agent.tasks_of(run.green) if t.stop_reason is None]
        live_blue = [t for b in run.blue for t in agent.tasks_of(b) if t.stop_reason is None]
        blue_wanted = 0 if run.stage == "CLEAN_UP" and not run.rollback else desired
        if self._run is run:
            self.native.set_counts(
                run.arn,
                target=(0 if run.rollback else desired, len(live_green), 0),
                source=(blue_wanted, len(live_blue), 0),
            )

    def _deployment(self, deployment_id: str) -> dict[str, Any] | None:
        return next((d for d in self.ecs.deployments() if d["id"] == deployment_id), None)

    def _configuration(self) -> dict[str, Any]:
        return dict(getattr(self.ecs.service, "deployment_configuration", None) or {})
