"""Reading CloudWatch Logs of exactly the tasks a deployment started.

The pieces, one job each: ``streams`` (exact stream names, task ids, NEW/OLD),
``times`` (``since`` and timestamps), ``reader`` (an exact incremental reader),
``budget`` (the process's request budget per endpoint, and the shared backoff),
``calls`` (one request through the budget; throttling and transient errors),
``patterns`` (success/failure markers and the per-task matching state),
``targets`` (step inputs -> streams) and ``service_tasks`` (a service's running
tasks -> streams, for ``logs.tail``).
"""

from __future__ import annotations

from opskit.logs.patterns import Pattern, SuccessTracker, parse_patterns
from opskit.logs.reader import LogLine, LogReader
from opskit.logs.streams import StreamTarget, short_id

__all__ = [
    "LogLine",
    "LogReader",
    "Pattern",
    "StreamTarget",
    "SuccessTracker",
    "parse_patterns",
    "short_id",
]
