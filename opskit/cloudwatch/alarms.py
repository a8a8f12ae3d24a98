"""Read named CloudWatch alarms with DescribeAlarms, whatever their type.

DescribeAlarms answers only the metric alarms unless ``AlarmTypes`` asks for
the others too; a composite alarm (ECS's deployment alarms may name one) or a
Logs Insights alarm would then read as missing. It takes up to 100 names per
request (the API reference's ``AlarmNames``), so the names go in chunks, each
paginated.

Throttling: the client retries it as botocore does (standard mode, the run's
attempts). When the retries are spent, ``AlarmsThrottled`` says so apart from
any other error, so that a watch can count that read as "not read yet" instead
of failing a release on CloudWatch's quota.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opskit.aws import describe_client_error, error_code
from opskit.logs.calls import THROTTLING_CODES

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

ALARM_TYPES = ("CompositeAlarm", "MetricAlarm", "LogAlarm")
# DescribeAlarms' answer members, each with the type it holds.
_MEMBERS = (("MetricAlarms", "MetricAlarm"), ("CompositeAlarms", "CompositeAlarm"),
            ("LogAlarms", "LogAlarm"))  # fmt: skip
MAX_NAMES = 100  # AlarmNames: "Maximum number of 100 items"
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Alarm:
    """One alarm as read. ``reason`` (its StateReason) is outside text: shown only
    through the reporters' escaping, never in a timeline label."""

    name: str
    kind: str  # MetricAlarm | CompositeAlarm | LogAlarm
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    updated_at: float  # StateUpdatedTimestamp, epoch seconds (0 when not given)


class AlarmsThrottled(Exception):
    """DescribeAlarms was still throttled after botocore's retries."""


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def _chunks(names: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(names), MAX_NAMES):
        yield list(names[start : start + MAX_NAMES])


def read_alarms(aws: AwsAccess, names: Sequence[str]) -> dict[str, Alarm]:
    """The alarms of ``names`` that exist, by name (a name CloudWatch does not
    know is absent). Raises ``AlarmsThrottled``, or ``StepError`` naming the
    target and call for any other AWS failure."""
    from botocore.exceptions import ClientError

    found: dict[str, Alarm] = {}
    client = aws.client("cloudwatch")
    with aws.call(f"cloudwatch DescribeAlarms ({len(names)} alarm names)"):
        paginator = client.get_paginator("describe_alarms")
        for chunk in _chunks(names):
            try:
                pages = list(paginator.paginate(AlarmNames=chunk, AlarmTypes=list(ALARM_TYPES)))
            except ClientError as err:
                if error_code(err) in THROTTLING_CODES:
                    raise AlarmsThrottled(describe_client_error(err)) from None
                raise
            for page in pages:
                for member, kind in _MEMBERS:
                    for alarm in page.get(member) or []:
                        name = str(alarm.get("AlarmName", ""))
                        found[name] = Alarm(
                            name=name,
                            kind=kind,
                            state=str(alarm.get("StateValue", "")),
                            reason=str(alarm.get("StateReason", "")),
                            updated_at=_epoch(alarm.get("StateUpdatedTimestamp")),
                        )
    return found
