"""One request budget per process for CloudWatch Logs reads, and the shared backoff.

CloudWatch Logs limits each read API per account and Region, for every caller
together: this process's steps and fleet targets, other opskit runs, other
tools, people in the console. AWS's CloudWatch Logs quotas table gives, per
API, in requests per second (the lowest default of any Region first):

- FilterLogEvents: 5 (10 in most Regions, 25 in us-east-1), not adjustable;
  opskit sends at most 2 in any one second.
- GetLogEvents: 10 (25 in most Regions), not adjustable; opskit: 4.
- DescribeLogGroups: 10, adjustable; opskit: 2 (one check per reader).

The budget keeps this process under about 40 % of the lowest quota of each
API, whatever the Region, so that the rest of the account (a second opskit job,
the console) still has room. It is a rolling window: at most N requests in any
one second, which is how a per-second quota is judged whatever AWS's own
accounting. The account cannot be known without a call, so the key is what
shares a quota as far as the process can tell: the client's Region and
endpoint (and the clock's time, which every real clock shares: ``shared_budget``).

The budget never sleeps: ``request`` says "go" or "wait this long", and the
reader ends its poll and carries on at the next one, on the step's clock (so a
test's ``FakeClock`` plays it). A reader told to wait keeps its place, first
come first served, so a fleet's targets each get their turn.

When AWS throttles anyway (the account is busier than this process), every
reader of that endpoint backs off together, with jitter, instead of botocore
retrying each request up to its attempt limit in a burst: a throttled request
spends quota too.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opskit.clock import Clock

WINDOW = 1.0  # seconds: AWS's quotas are per second
PER_SECOND = {"FilterLogEvents": 2, "GetLogEvents": 4, "DescribeLogGroups": 2}
# Backoff after a throttled answer: the n-th in a row waits between half and all
# of min(FIRST * 2 ** (n - 1), MOST) seconds ("equal jitter"), so that readers
# throttled together do not come back together.
FIRST_BACKOFF = 2.0
MOST_BACKOFF = 30.0


LATE = 0.25  # seconds: a kept place still holds this late (a real sleep wakes late)


@dataclass(frozen=True)
class Wait:
    """Do not send this request now; try again in ``seconds``."""

    seconds: float
    throttled: bool = False  # True: AWS is throttling this API (a backoff); False: pacing
    cause: str = ""  # the throttled answer, e.g. "ThrottlingException: Rate exceeded"


@dataclass
class _Api:
    slots: list[float] = field(default_factory=list)  # send times given, in order; later ones kept
    kept: dict[int, float] = field(default_factory=dict)  # requester -> its place (a slot)
    backoff_until: float = 0.0
    in_a_row: int = 0  # throttled answers since the last answered request
    cause: str = ""


class LogsBudget:
    """The requests one process may send to one CloudWatch Logs endpoint.

    Thread-safe: a fleet's targets read in threads of one process. Times are
    the callers' clock (``Clock.monotonic``), never the wall clock, and all
    callers read the same clock's time: a ``now`` earlier than one already
    given is a caller that read its clock a moment before another (a thread
    delayed between the two), never a reason to forget the backoff.
    """

    def __init__(
        self,
        per_second: dict[str, int] | None = None,
        *,
        jitter: Callable[[], float] = random.random,
    ):
        self.per_second = dict(PER_SECOND if per_second is None else per_second)
        self.jitter = jitter  # 0 <= jitter() < 1; tests give one they can predict
        self._apis: dict[str, _Api] = {}
        self._lock = threading.Lock()

    def request(self, api: str, now: float, who: int | None = None) -> Wait | None:
        """``None``: send it now (counted from ``now``); else how long to wait.

        With ``who`` (the requester's id) a request that must wait keeps its
        place: the slot it is told to come back at is kept for it, first come
        first served, so readers that share the budget each get their turn
        (without it, those served come back as those waiting do, and may win
        every time). Without ``who`` nothing is kept (a probe that can wait for
        the next poll)."""
        with self._lock:
            state = self._apis.setdefault(api, _Api())
            if now < state.backoff_until:
                return Wait(state.backoff_until - now, throttled=True, cause=state.cause)
            state.slots = [t for t in state.slots if t > now - WINDOW]
            state.kept = {k: t for k, t in state.kept.items() if t > now - WINDOW}
            if who is not None and who in state.kept:
                place = state.kept.pop(who)
                if now < place:
                    state.kept[who] = place
                    return Wait(place - now)
                if now <= place + LATE:
                    return None  # its slot is counted already
                state.slots.remove(place)  # too late for it: queue again
            allowed = self.per_second.get(api)
            if allowed is None:
                return None
            # In order (never before a kept place), and at most ``allowed`` in any
            # second: a slot is at least WINDOW after the one ``allowed`` before it.
            slot = max([now, *state.slots[-1:]])
            if len(state.slots) >= allowed:
                slot = max(slot, state.slots[-allowed] + WINDOW)
            if slot <= now:
                state.slots.append(now)
                return None
            if who is not None:
                state.slots.append(slot)
                state.kept[who] = slot
            return Wait(slot - now)

    def throttled(self, api: str, now: float, cause: str) -> float:
        """AWS throttled a request: every reader of this endpoint backs off.
        Returns how long from ``now``."""
        with self._lock:
            state = self._apis.setdefault(api, _Api())
            state.in_a_row += 1
            state.cause = cause
            ceiling = min(FIRST_BACKOFF * 2 ** (state.in_a_row - 1), MOST_BACKOFF)
            delay = ceiling * (0.5 + 0.5 * self.jitter())
            state.backoff_until = max(state.backoff_until, now + delay)
            return state.backoff_until - now

    def answered(self, api: str) -> None:
        """A request was answered: the next throttle starts the backoff afresh."""
        with self._lock:
            self._apis.setdefault(api, _Api()).in_a_row = 0


_Key = tuple[str | None, str | None, int | None]
_budgets: dict[_Key, tuple[Clock | None, LogsBudget]] = {}
_budgets_lock = threading.Lock()
_new_budget: Callable[[], LogsBudget] = LogsBudget


def shared_budget(client: Any, clock: Clock) -> LogsBudget:
    """The process's budget for the endpoint ``client`` talks to (Region + URL),
    counted on ``clock``'s time.

    A budget compares the times its callers give, so they must all read one
    time. Every ``Clock`` reads the process's monotonic time: all real runs,
    steps and fleet targets of the process share one budget per endpoint, which
    is the point. A clock that keeps its own time (a test's ``FakeClock``) gets
    budgets of its own: its times never meet another clock's."""
    meta = getattr(client, "meta", None)
    own_time = type(clock).monotonic is not Clock.monotonic
    key = (
        getattr(meta, "region_name", None),
        getattr(meta, "endpoint_url", None),
        id(clock) if own_time else None,
    )
    with _budgets_lock:
        if key not in _budgets:
            # The clock is kept with its budget, so its id is never reused by another.
            _budgets[key] = (clock if own_time else None, _new_budget())
        return _budgets[key][1]


def reset_budgets(factory: Callable[[], LogsBudget] = LogsBudget) -> None:
    """Forget every budget; new ones come from ``factory``. For tests: one that
    wants a jitter it can predict, and the next, which must not inherit a real
    clock's backoff or the factory."""
    global _new_budget
    with _budgets_lock:
        _budgets.clear()
        _new_budget = factory
