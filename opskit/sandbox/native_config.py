"""What a sandbox service on one of ECS's native strategies is configured with.

``sandbox: {strategy: BLUE_GREEN | LINEAR | CANARY}`` (or ``opskit sandbox up
--strategy``) gives the service the deploymentConfiguration a team would set
for a release that opskit gates: a PAUSE hook after the test traffic shift (so
checks run against green on the test listener before production moves), one
minute of bake time, the service's deployment alarm ``chatbot-5xx`` (created
in moto's CloudWatch, state OK) with rollback, and the circuit breaker.

Sandbox time: a "minute" of the configuration (bake time, step bake time, the
hook's timeout) lasts ``OPSKIT_SANDBOX_MINUTE`` seconds (default 2), so a
release plays in seconds and its stages keep their real proportions.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from opskit.sandbox.errors import SandboxError
from opskit.sandbox.server import DEPLOYMENT_CONFIGURATION

ROLLING = "ROLLING"
NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
STRATEGIES = (ROLLING, *NATIVE_STRATEGIES)
ALARM_NAME = "chatbot-5xx"
PAUSE_STAGE = "POST_TEST_TRAFFIC_SHIFT"
HOOK_TIMEOUT_MINUTES = 10
BAKE_MINUTES = 1
LINEAR_STEP_PERCENT = 30.0
CANARY_PERCENT = 10.0
STEP_BAKE_MINUTES = 1
MINUTE_ENV = "OPSKIT_SANDBOX_MINUTE"
DEFAULT_MINUTE = 2.0


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise SandboxError(
            f"unknown deployment strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}"
        )
    return strategy


def minute_seconds() -> float:
    """How many real seconds a sandbox minute lasts (``OPSKIT_SANDBOX_MINUTE``)."""
    raw = os.environ.get(MINUTE_ENV, "").strip()
    if not raw:
        return DEFAULT_MINUTE
    try:
        seconds = float(raw)
    except ValueError:
        raise SandboxError(f"{MINUTE_ENV} must be a number of seconds, not {raw!r}") from None
    if seconds <= 0:
        raise SandboxError(f"{MINUTE_ENV} must be above 0, not {raw!r}")
    return seconds


def deployment_configuration(strategy: str) -> dict[str, Any]:
    """The service's ``deploymentConfiguration`` (botocore's ``DeploymentConfiguration``)."""
    configuration: dict[str, Any] = copy.deepcopy(DEPLOYMENT_CONFIGURATION)
    if check_strategy(strategy) == ROLLING:
        return configuration
    configuration.update(
        {
            "strategy": strategy,
            "bakeTimeInMinutes": BAKE_MINUTES,
            "alarms": {"alarmNames": [ALARM_NAME], "enable": True, "rollback": True},
            "lifecycleHooks": [
                {
                    "targetType": "PAUSE",
                    "lifecycleStages": [PAUSE_STAGE],
                    "timeoutConfiguration": {
                        "timeoutInMinutes": HOOK_TIMEOUT_MINUTES,
                        "action": "ROLLBACK",
                    },
                }
            ],
        }
    )
    if strategy == "LINEAR":
        configuration["linearConfiguration"] = {
            "stepPercent": LINEAR_STEP_PERCENT,
            "stepBakeTimeInMinutes": STEP_BAKE_MINUTES,
        }
    if strategy == "CANARY":
        configuration["canaryConfiguration"] = {
            "canaryPercent": CANARY_PERCENT,
            "canaryBakeTimeInMinutes": STEP_BAKE_MINUTES,
        }
    return configuration


def create_alarm(cloudwatch: Any, names: dict[str, str]) -> None:
    """The deployment alarm, as a team would define it on its load balancer's 5xx
    count; in moto nothing feeds the metric, so it stays OK until a test or a
    drill sets its state (``set_alarm_state``)."""
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM_NAME,
        AlarmDescription=f"5xx answers of service {names['service']}",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "TargetGroup", "Value": f"targetgroup/{names['service']}"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cloudwatch.set_alarm_state(
        AlarmName=ALARM_NAME, StateValue="OK", StateReason="no 5xx answers (sandbox start)"
    )


def alarm_states(names: list[str], region: str, account_id: str) -> dict[str, tuple[str, str]]:
    """``{name: (state, reason)}`` of the named alarms, read from moto's CloudWatch
    backend in process (as ECS reads the service's alarms); unknown names are left out."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[account_id][region].alarms
    return {
        name: (str(alarms[name].state_value), str(alarms[name].state_reason or ""))
        for name in names
        if name in alarms
    }
