"""What the sandbox's agent does under the ECS faults, in ECS's own words.

Placement: Fargate has no task placement of the user's to get wrong; what it
reports when it cannot start a task is its capacity event ("Amazon ECS service
event messages": "(service NAME) was unable to place a task. Reason: Capacity
is unavailable at this time. Please try again later or in a different
availability zone."). ECS keeps trying and, per that page, omits a duplicate
message until the cause is resolved or six hours pass. The sandbox shortens
both: it tries again every ``RETRY_SECONDS`` and repeats the event every
``REPEAT_SECONDS`` (six hours played as two seconds) while placement fails; once
a task is placed the cause is resolved, so the next failure says so at once.

Spot: a Fargate Spot interruption stops the task with the stop code and reason
of the task state change event AWS documents for it ("How do I handle Spot
termination notices in AWS Fargate Spot tasks?"); ECS's service scheduler then
starts a replacement, as for any stopped task.
"""

from __future__ import annotations

from collections.abc import Callable

from opskit.sandbox.aws_faults.board import AwsFaultBoard

PLACEMENT_EVENT = (
    "was unable to place a task. Reason: Capacity is unavailable at this time. "
    "Please try again later or in a different availability zone."
)
RETRY_SECONDS = 1.0
REPEAT_SECONDS = 2.0
SPOT_STOP_CODE = "SpotInterruption"
SPOT_REASON = "Your Spot Task was interrupted."


class Placement:
    """One service's task placement under the ``placement`` fault.

    ``add_event`` records a service event (``EcsRecords.add_event``: ECS adds
    the ``(service NAME)`` prefix).
    """

    def __init__(self, board: AwsFaultBoard | None, add_event: Callable[[str], None]):
        self._board = board
        self._add_event = add_event
        self._tried_at: float | None = None
        self._said_at: float | None = None

    def places(self) -> bool:
        """Whether a task the service needs may start now: ``False`` while the
        fault makes this attempt fail, or until the next attempt is due."""
        board = self._board
        if board is None or not board.placement_in_force():
            self._tried_at = self._said_at = None
            return True
        now = board.clock()
        if self._tried_at is not None and 0 <= now - self._tried_at < RETRY_SECONDS:
            return False  # (a clock that went back, a test's, makes the attempt due)
        self._tried_at = now
        if not board.placement_fails():
            self._said_at = None
            return True
        if self._said_at is None or not 0 <= now - self._said_at < REPEAT_SECONDS:
            self._said_at = now
            self._add_event(PLACEMENT_EVENT)
        return False
