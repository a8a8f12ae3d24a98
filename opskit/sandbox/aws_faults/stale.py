"""What a stale read answers: the wire form of a service record from before a write.

``EcsRecords.snapshot()`` copies, just before an UpdateService is applied, the
fields of the service record that an update or a rollout changes; a stale
DescribeServices answer is moto's current answer with those fields put back.
Values are turned into the JSON that the ECS API sends (awsJson1_1: timestamps
as epoch seconds, absent values left out), so botocore parses the stale answer
as it parses any other.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timezone
from typing import Any

# The service fields an UpdateService (or the rollout after it) changes.
STALE_FIELDS = (
    "taskDefinition",
    "desiredCount",
    "runningCount",
    "pendingCount",
    "deployments",
    "events",
    "deploymentConfiguration",
)


def wire_value(value: Any) -> Any:
    """A recorded value as the ECS API's JSON carries it."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # moto records naive datetimes in UTC
            value = value.astimezone(timezone.utc)
        seconds = calendar.timegm(value.timetuple())
        # Smithy's epoch-seconds: milliseconds at most, finer digits truncated.
        return seconds + (value.microsecond // 1000) / 1000 if value.microsecond else seconds
    if isinstance(value, dict):
        return {str(k): wire_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [wire_value(item) for item in value]
    return value


def stale_document(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's fields in wire form (a field that was absent stays absent)."""
    return {
        name: wire_value(snapshot[name]) for name in STALE_FIELDS if snapshot.get(name) is not None
    }


def as_before(current: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The current wire record of a service, with the fields of ``before`` put back."""
    record = {k: v for k, v in current.items() if k not in STALE_FIELDS}
    record.update(before)
    return record
