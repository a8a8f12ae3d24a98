"""The process's CloudWatch Logs budget: pacing within a second, the shared backoff."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.clock import Clock, FakeClock
from opskit.logs.budget import LogsBudget, Wait, shared_budget


def test_at_most_two_filter_requests_in_any_one_second() -> None:
    budget = LogsBudget()

    sent = [budget.request("FilterLogEvents", t) for t in (0.0, 0.3)]
    third = budget.request("FilterLogEvents", 0.6)
    after_a_second = budget.request("FilterLogEvents", 1.01)

    assert sent == [None, None]
    assert third == Wait(pytest.approx(0.4))  # when the request at 0.0 leaves the window
    assert after_a_second is None


def test_a_reader_told_to_wait_keeps_its_place_first_come_first_served() -> None:
    """Readers served at 0.0 come back at 1.0 with the two that waited: those two
    go first (their slots were kept), the newcomers queue behind them."""
    budget = LogsBudget()
    a, b, c, d = 1, 2, 3, 4
    served = [budget.request("FilterLogEvents", 0.0, who) for who in (a, b)]
    waiting = [budget.request("FilterLogEvents", 0.0, who) for who in (c, d)]

    at_one = {who: budget.request("FilterLogEvents", 1.0, who) for who in (a, b, c, d)}

    assert served == [None, None]
    assert waiting == [Wait(1.0), Wait(1.0)]
    assert at_one == {a: Wait(1.0), b: Wait(1.0), c: None, d: None}


def test_a_kept_place_missed_by_more_than_a_quarter_second_is_given_up() -> None:
    budget = LogsBudget()
    for who in (1, 2):
        budget.request("FilterLogEvents", 0.0, who)
    assert budget.request("FilterLogEvents", 0.0, 3) == Wait(1.0)

    assert budget.request("FilterLogEvents", 1.5, 3) is None  # its slot at 1.0 was missed
    assert budget.request("FilterLogEvents", 1.5, 4) is None
    assert budget.request("FilterLogEvents", 1.5, 5) == Wait(pytest.approx(1.0))


def test_each_api_has_its_own_allowance() -> None:
    budget = LogsBudget()

    filters = [budget.request("FilterLogEvents", 0.0) for _ in range(3)]
    probes = [budget.request("GetLogEvents", 0.0) for _ in range(5)]

    assert [w is None for w in filters] == [True, True, False]
    assert [w is None for w in probes] == [True, True, True, True, False]


def test_a_throttled_answer_holds_back_every_reader_with_a_growing_jittered_backoff() -> None:
    budget = LogsBudget(jitter=lambda: 0.4)  # each backoff is 70 % of its ceiling

    first = budget.throttled("FilterLogEvents", 10.0, "ThrottlingException: Rate exceeded")
    held = budget.request("FilterLogEvents", 11.0)
    second = budget.throttled("FilterLogEvents", 11.4, "ThrottlingException: Rate exceeded")
    other_api = budget.request("GetLogEvents", 11.4)

    assert first == pytest.approx(1.4)  # ceiling 2 s
    assert held == Wait(
        pytest.approx(0.4), throttled=True, cause="ThrottlingException: Rate exceeded"
    )
    assert second == pytest.approx(2.8)  # ceiling 4 s
    assert other_api is None  # each API has its own quota


def test_the_backoff_starts_afresh_after_an_answer_and_never_exceeds_thirty_seconds() -> None:
    budget = LogsBudget(jitter=lambda: 0.999999)
    backoffs = [budget.throttled("FilterLogEvents", 0.0, "Throttling: Rate exceeded")]
    for _ in range(7):
        backoffs.append(budget.throttled("FilterLogEvents", 0.0, "Throttling: Rate exceeded"))
    budget.answered("FilterLogEvents")
    after = budget.throttled("FilterLogEvents", 100.0, "Throttling: Rate exceeded")

    assert [round(b) for b in backoffs] == [2, 4, 8, 16, 30, 30, 30, 30]
    assert after == pytest.approx(2.0, abs=0.01)


class Meta:
    def __init__(self, region: str, url: str):
        self.region_name, self.endpoint_url = region, url


class Client:
    def __init__(self, region: str, url: str):
        self.meta = Meta(region, url)


TOKYO = "https://logs.ap-northeast-1.amazonaws.com"


def test_one_budget_per_region_and_endpoint() -> None:
    tokyo: Any = Client("ap-northeast-1", TOKYO)
    tokyo_again: Any = Client("ap-northeast-1", TOKYO)
    seoul: Any = Client("ap-northeast-2", "https://logs.ap-northeast-2.amazonaws.com")
    clock = Clock()

    assert shared_budget(tokyo, clock) is shared_budget(tokyo_again, clock)
    assert shared_budget(tokyo, clock) is not shared_budget(seoul, clock)


def test_real_clocks_share_one_budget_and_a_test_clock_counts_its_own() -> None:
    """Each run makes its own ``Clock``, and they all read the process's time:
    one budget. A ``FakeClock`` tells a time of its own, never compared with
    another's."""
    tokyo: Any = Client("ap-northeast-1", TOKYO)
    first, second = FakeClock(), FakeClock()

    assert shared_budget(tokyo, Clock()) is shared_budget(tokyo, Clock())
    assert shared_budget(tokyo, first) is shared_budget(tokyo, first)
    assert shared_budget(tokyo, first) is not shared_budget(tokyo, second)
    assert shared_budget(tokyo, first) is not shared_budget(tokyo, Clock())


def test_a_caller_that_read_its_clock_before_a_throttle_still_waits_out_the_backoff() -> None:
    """Two readers of one process: one read the clock at 100.0 and was delayed
    (a busy thread) while the other was throttled at 102.0. The backoff holds
    for both; the budget once took an earlier time for another clock's and
    forgot it."""
    budget = LogsBudget(jitter=lambda: 0.4)
    budget.request("FilterLogEvents", 102.0)
    backoff = budget.throttled("FilterLogEvents", 102.0, "ThrottlingException: Rate exceeded")

    late = budget.request("FilterLogEvents", 100.0)

    assert backoff == pytest.approx(1.4)
    assert late == Wait(
        pytest.approx(3.4), throttled=True, cause="ThrottlingException: Rate exceeded"
    )
