"""``since`` values and CloudWatch timestamps (epoch milliseconds, UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

from opskit.durations import parse_duration


def parse_since(value: object, now: float) -> int:
    """Epoch milliseconds for a ``since`` input.

    A duration (``10m``, ``90``) means that long before ``now`` (epoch seconds);
    anything else must be an ISO 8601 timestamp (``2026-11-24T03:10:00.123Z``; no
    zone means UTC). Raises ``ValueError`` with a message for the user.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int((now - parse_duration(value)) * 1000)
    text = str(value).strip()
    try:
        return int((now - parse_duration(text)) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"since: expected a duration like 10m or an ISO 8601 time like "
            f"2026-11-24T03:10:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def iso_ms(epoch_ms: int) -> str:
    """``2026-11-24T03:10:00.123Z``: the form ECS outputs and reports use."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
