"""Plays a native (BLUE_GREEN, LINEAR, CANARY) deployment for the step tests.

The records are ECS's as ``opskit.sandbox.moto_service_deployments`` keeps them
(UpdateService opens one, PENDING at RECONCILE_SERVICE); this driver moves the
newest one through AWS's lifecycle stages, one move per ``ScriptedClock``
sleep, and plays the new revision's tasks on the ecs-svc deployment that
UpdateService started (``tests.ecs_driver``), so a crash loop looks as it does
on ECS: stopped tasks carrying that deployment's id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from opskit.sandbox.moto_service_deployments import NativeRecords
from tests.ecs_driver import EcsDriver, build_stack

ALARM = "chatbot-5xx"
PAUSE_STAGE = "POST_TEST_TRAFFIC_SHIFT"


def configuration(strategy: str = "BLUE_GREEN", **extra: Any) -> dict[str, Any]:
    """A native service's deploymentConfiguration, as the sandbox sets one."""
    config: dict[str, Any] = {
        "strategy": strategy,
        "bakeTimeInMinutes": 1,
        "lifecycleHooks": [
            {
                "targetType": "PAUSE",
                "lifecycleStages": [PAUSE_STAGE],
                "timeoutConfiguration": {"timeoutInMinutes": 10, "action": "ROLLBACK"},
            }
        ],
        "alarms": {"alarmNames": [ALARM], "enable": True, "rollback": True},
    }
    if strategy == "LINEAR":
        config["linearConfiguration"] = {"stepPercent": 30.0, "stepBakeTimeInMinutes": 1}
    if strategy == "CANARY":
        config["canaryConfiguration"] = {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}
    config.update(extra)
    return config


def _now() -> datetime:
    return datetime.now(timezone.utc)


class NativeDriver:
    """Moves the newest service deployment of the stack's service."""

    def __init__(self, ecs: EcsDriver):
        self.ecs = ecs
        self.records: NativeRecords = ecs.records.native

    @property
    def arn(self) -> str:
        current = self.records.current()
        assert current is not None, "UpdateService opened no service deployment yet"
        return str(current["serviceDeploymentArn"])

    def record(self) -> dict[str, Any]:
        return self.records.get(self.arn)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.records.calls if name == operation]

    def stage(self, stage: str, *, production: float = 0.0, test: float = 0.0) -> None:
        self.records.update(self.arn, status="IN_PROGRESS", lifecycleStage=stage)
        self.records.set_traffic(self.arn, production=production, test=test)

    def scale_up(self) -> None:
        """Green's tasks start (the ecs-svc deployment's) and the stage moves on."""
        self.stage("SCALE_UP")
        self.ecs.start_tasks()

    def test_shift(self) -> None:
        self.stage("TEST_TRAFFIC_SHIFT", test=100.0)

    def pause(self) -> str:
        """Test traffic on green, production on blue, waiting at the PAUSE hook."""
        self.stage(PAUSE_STAGE, test=100.0)
        return self.records.pause(self.arn, PAUSE_STAGE)

    def production(self, percent: float = 100.0) -> None:
        self.stage("PRODUCTION_TRAFFIC_SHIFT", production=percent, test=100.0)

    def bake(self) -> None:
        self.stage("BAKE_TIME", production=100.0, test=100.0)

    def succeed(self) -> None:
        self.stage("CLEAN_UP", production=100.0, test=100.0)
        self.ecs.drain_old()
        self.ecs.complete()
        self.records.update(
            self.arn,
            status="SUCCESSFUL",
            statusReason="Service deployment completed successfully.",
            finishedAt=datetime.now(timezone.utc),
        )

    def rollback_done(self) -> None:
        """ECS finished a rollback: blue takes all traffic again."""
        self.records.set_traffic(self.arn, production=0.0, test=0.0)
        self.records.update(
            self.arn, status="ROLLBACK_SUCCESSFUL", finishedAt=datetime.now(timezone.utc)
        )

    def alarm_rollback(self, alarm: str = ALARM) -> None:
        """The deployment alarm went to ALARM: ECS rolls back on its own."""
        record = self.record()
        alarms = dict(record.get("alarms") or {}, triggeredAlarmNames=[alarm], status="TRIGGERED")
        self.records.update(
            self.arn,
            status="ROLLBACK_IN_PROGRESS",
            statusReason=f"Rolling back: CloudWatch alarm {alarm} is in ALARM state.",
            alarms=alarms,
            rollback={
                "reason": f"alarm {alarm} triggered",
                "startedAt": datetime.now(timezone.utc),
            },
        )

    def crash(self) -> None:
        self.ecs.crash()


def build_native(aws: Any, strategy: str = "BLUE_GREEN", **extra: Any) -> NativeDriver:
    """A settled service (one blue task) with a native strategy; its driver."""
    return NativeDriver(build_stack(aws, **configuration(strategy, **extra)))
