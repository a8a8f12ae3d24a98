"""CloudWatch Logs' read quotas, played as token buckets.

The quotas are per account and Region, so every reader of the sandbox (each run,
fleet target, test client) shares them, as on AWS. The quotas page gives each
read API a number of requests a second; how AWS meters them it does not say for
Logs, so the sandbox uses the token bucket that AWS documents for ECS's API
("Request throttling for the Amazon ECS API"): a bucket of ``rate`` tokens,
refilled at ``rate`` a second, one token a request. A client paced at the
quota is never throttled; a burst past it is, until the bucket refills.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.sandbox.aws_faults.kinds import FILTER_LOG_EVENTS_QUOTA

# Requests a second per account and Region. FilterLogEvents: the quotas page and
# AWS's knowledge-center article "How do I determine throttling in my CloudWatch
# logs?"; DescribeLogStreams: its API reference (botocore's logs model says 25);
# GetLogEvents and DescribeLogGroups: the quotas page.
LOGS_READ_QUOTAS = {
    "FilterLogEvents": FILTER_LOG_EVENTS_QUOTA,
    "GetLogEvents": 25.0,
    "DescribeLogStreams": 25.0,
    "DescribeLogGroups": 10.0,
}
_EPSILON = 1e-9  # float sums of refills must not turn "exactly on pace" into a throttle


@dataclass
class TokenBucket:
    rate: float  # tokens a second, and the bucket's size
    tokens: float
    updated: float  # the clock's reading at the last take

    @classmethod
    def full(cls, rate: float, now: float) -> TokenBucket:
        return cls(rate, rate, now)

    def take(self, now: float) -> bool:
        """One request at ``now``: ``True`` if a token was there (admitted)."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.rate, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens + _EPSILON >= 1.0:
            self.tokens -= 1.0
            return True
        return False
