"""Reading alarms: every alarm type, in chunks of 100 names, a missing name
absent, a throttle that outlasted botocore's retries told apart."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.cloudwatch.alarms import AlarmsThrottled, read_alarms
from opskit.cloudwatch.watch import judge
from opskit.errors import StepError
from tests.cloudwatch.alarms_helpers import (
    Throttle,
    create_alarm,
    create_composite_alarm,
    set_state,
)


def test_reads_metric_and_composite_alarms_with_state_and_reason(aws: Any) -> None:
    create_alarm(aws, "api-5xx", "ALARM", "Threshold Crossed: 1 datapoint [9.0] > 5.0")
    create_composite_alarm("release-health", 'ALARM("api-5xx")')
    set_state(aws, "release-health", "OK", "children OK")
    throttle = Throttle(aws)  # records the requests

    found = read_alarms(aws, ["api-5xx", "release-health", "nope"])

    assert {n: (a.kind, a.state, a.reason) for n, a in found.items()} == {
        "api-5xx": ("MetricAlarm", "ALARM", "Threshold Crossed: 1 datapoint [9.0] > 5.0"),
        "release-health": ("CompositeAlarm", "OK", "children OK"),
    }
    # Without AlarmTypes, CloudWatch answers metric alarms only (moto answers all).
    (request,) = throttle.requests
    assert request["AlarmTypes"] == ["CompositeAlarm", "MetricAlarm", "LogAlarm"]


def test_more_than_100_names_go_in_requests_of_100(aws: Any) -> None:
    names = [f"alarm-{i:03d}" for i in range(150)]
    for name in names[:3] + names[-3:]:
        create_alarm(aws, name)
    throttle = Throttle(aws)

    found = read_alarms(aws, names)

    assert sorted(found) == sorted(names[:3] + names[-3:])
    assert [len(r["AlarmNames"]) for r in throttle.requests] == [100, 50]


def test_a_throttle_past_the_retries_is_its_own_error_and_others_are_step_errors(aws: Any) -> None:
    create_alarm(aws, "api-5xx")
    throttle = Throttle(aws)
    throttle.next(1)

    with pytest.raises(AlarmsThrottled, match="ThrottlingException"):
        read_alarms(aws, ["api-5xx"])
    assert read_alarms(aws, ["api-5xx"])["api-5xx"].state == "OK"

    throttle.next(1, "InvalidParameterValue")
    with pytest.raises(StepError, match="^target 'test': cloudwatch DescribeAlarms .*Rate"):
        read_alarms(aws, ["api-5xx"])


def test_judge_names_missing_firing_and_alarms_without_data_in_the_given_order(aws: Any) -> None:
    create_alarm(aws, "b", "ALARM", "b fired")
    create_alarm(aws, "a", "ALARM", "a fired")
    create_alarm(aws, "c", "INSUFFICIENT_DATA", "no datapoints")
    names = ["a", "gone", "b", "c"]

    reading = judge(names, read_alarms(aws, names))

    assert reading.missing == ("gone",)
    assert [a.name for a in reading.firing] == ["a", "b"]
    assert [a.name for a in reading.insufficient] == ["c"]
