"""CloudWatch alarms on moto's server for the alarm tests: created, set to a
state with ``SetAlarmState`` (what a test's ScriptedClock move calls), and
DescribeAlarms answers replaced by a throttle (botocore's ``before-call``
short-circuits the request, as a throttle that outlasted its retries)."""

from __future__ import annotations

from typing import Any


def create_alarm(
    aws: Any, name: str, state: str = "OK", reason: str = "Threshold not crossed"
) -> None:
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_state(aws, name, state, reason)


def create_composite_alarm(name: str, rule: str, region: str = "us-east-1") -> None:
    """moto's server answers PutCompositeAlarm NotImplemented, while its records and
    DescribeAlarms know composite alarms (an alarm with a rule): made in its backend,
    which this process shares with the server."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    cloudwatch_backends[DEFAULT_ACCOUNT_ID][region].put_metric_alarm(
        name=name, namespace="", metric_name="", comparison_operator="", evaluation_periods=0,
        period=0, threshold=0.0, statistic="", description="", dimensions=[], alarm_actions=[],
        rule=rule,
    )  # fmt: skip


def set_state(aws: Any, name: str, state: str, reason: str) -> None:
    aws.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


class Throttle:
    """The next ``count`` DescribeAlarms requests answer ThrottlingException;
    ``requests`` keeps every request's parameters."""

    def __init__(self, aws: Any) -> None:
        self.left = 0
        self.code = "ThrottlingException"
        self.requests: list[dict[str, Any]] = []
        events = aws.client("cloudwatch").meta.events
        events.register("before-parameter-build.cloudwatch.DescribeAlarms", self._record)
        events.register("before-call.cloudwatch.DescribeAlarms", self._answer)

    def next(self, count: int, code: str = "ThrottlingException") -> None:
        """The next ``count`` requests answer ``code`` (another code: another error)."""
        self.left, self.code = count, code

    def _record(self, params: Any, **_: Any) -> None:
        self.requests.append(dict(params))  # the API parameters, as the step gave them

    def _answer(self, **_: Any) -> Any:
        if self.left <= 0:
            return None
        self.left -= 1
        from botocore.awsrequest import AWSResponse

        error = {"Code": self.code, "Message": "Rate exceeded"}
        http = AWSResponse("http://127.0.0.1/", 400, {}, None)
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
