"""ECS could not place the new deployment's tasks: its own words, as data.

Pure. When the service scheduler cannot place a task (no container instance
fits it, Fargate has no capacity, an account limit, ENI or subnet limits), it
writes a service event and tries again later; the deployment gets no task and
would otherwise wait out the step's timeout with "waiting for the new task to
start". ``wait.DeploymentWatch`` collects the events below that were created
after the deployment started, while it has no RUNNING task; ``watch.judge``
fails it once they repeat (``FAIL_AT_EVENTS`` of them, or the first and the
newest ``FAIL_AFTER_SECONDS`` apart by the events' own timestamps), or once the
deployment has had no task at all (none PROVISIONING, PENDING or RUNNING) for
``FAIL_AFTER_SECONDS`` on the step's clock since the first was read, quoting
the newest one. That time rule is there because ECS does not always repeat
itself: the same page says that a repeated service event message is left out
until its cause is resolved or six hours pass, so a single event can be all the
evidence there will be. It restarts whenever the deployment has a task: ECS
placed it on a retry, and Fargate's image pull and ENI attach keep it PENDING
for a minute or more; the events stay counted, so three still fail.

The wordings are those of "Amazon ECS service event messages" (Amazon ECS
developer guide). Every placement failure of the scheduler starts
"(service NAME) was unable to place a task", followed either by "because no
container instance met all of its requirements" (EC2: CPU, memory, ports,
attributes, ENIs) or by ". Reason: ..." (capacity, limits, subnets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.durations import format_duration
from opskit.ecs.describe import epoch
from opskit.ecs.names import plural

# Matched case-insensitively, anywhere in the event's message.
PLACEMENT_FAILURES = (
    # EC2: no registered instance has the CPU, memory, ports, attributes or ENIs
    "was unable to place a task because no container instance met all of its requirements",
    # Fargate (and Fargate Spot) has no capacity in the service's Availability Zones
    "was unable to place a task. Reason: Capacity is unavailable at this time",
    # account quotas
    "was unable to place a task. Reason: You've reached the limit on the number of tasks",
    "was unable to place a task. Reason: You've reached the limit on the number of vCPUs",
    "was unable to place a task. Reason: The requested CPU configuration is above your limit",
    "was unable to place a task. Reason: The requested MEMORY configuration is above your limit",
    # any other reason the scheduler names (ENI and subnet address limits among them)
    "was unable to place a task. Reason:",
)
FAIL_AT_EVENTS = 3
FAIL_AFTER_SECONDS = 60.0


def _plain(text: str) -> str:
    # AWS's pages print some of these with a typographic apostrophe ("You’ve").
    return text.replace("\u2019", "'").casefold()


def is_placement_failure(message: str) -> bool:
    plain = _plain(message)
    return any(_plain(wording) in plain for wording in PLACEMENT_FAILURES)


@dataclass(frozen=True)
class PlacementFailures:
    """Placement-failure events counted for one deployment, oldest first."""

    events: tuple[dict[str, Any], ...] = ()
    # seconds on the step's clock with no task of the deployment, since the first
    # one was read (or since its last task went)
    waited: float = 0.0

    @property
    def span(self) -> float:
        """Seconds between the first and the newest event, by their timestamps."""
        times = [epoch(e.get("createdAt")) for e in self.events]
        return max(times) - min(times) if times else 0.0

    @property
    def repeated(self) -> bool:
        """The scheduler keeps failing: the deployment will get no task."""
        if not self.events:
            return False
        return (
            len(self.events) >= FAIL_AT_EVENTS
            or self.span >= FAIL_AFTER_SECONDS
            or self.waited >= FAIL_AFTER_SECONDS
        )

    @property
    def newest(self) -> str:
        return str(self.events[-1].get("message", "")) if self.events else ""

    def describe(self) -> str:
        """``3 placement failures over 40.0s``; ``1 placement failure, no task placed
        for 1m00s`` when the time waited since the first is what decides."""
        count = len(self.events)
        failures = plural(count, "placement failure")
        by_events = count >= FAIL_AT_EVENTS or self.span >= FAIL_AFTER_SECONDS
        if self.waited >= FAIL_AFTER_SECONDS and not by_events:
            return f"{failures}, no task placed for {format_duration(self.waited)}"
        if count == 1:
            return failures
        return f"{failures} over {format_duration(self.span)}"
