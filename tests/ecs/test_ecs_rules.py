"""ECS's own words as data: stops that are not crashes, placement failures, and
what a service's deploymentConfiguration asks of the wait."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opskit.clock import Deadline, FakeClock
from opskit.ecs.placement import PlacementFailures, is_placement_failure
from opskit.ecs.settings import RolloutConfig, wait_limit
from opskit.ecs.stops import not_a_crash, replaced_summary, sort_stops

T0 = datetime(2026, 11, 24, 3, 10, tzinfo=timezone.utc)


def stopped(reason: str, code: str) -> dict:
    return {"stoppedReason": reason, "stopCode": code, "lastStatus": "STOPPED"}


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        (stopped("Your Spot Task was interrupted.", "SpotInterruption"), "spot"),
        (
            stopped(
                "Task stopped because the underlying host is being retired", "TerminationNotice"
            ),
            "retired",
        ),
        (
            stopped(
                "Scaling activity initiated by (deployment ecs-svc/5361780928581526137)",
                "ServiceSchedulerInitiated",
            ),
            "scale-in",
        ),
        (
            stopped(
                "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:"
                "us-east-1:123456789012:targetgroup/chatbot/6d0ecf831eec9f09)",
                "ServiceSchedulerInitiated",
            ),
            "elb-health",
        ),
        # the same stop code, but the new code failing its own health check: a crash
        (stopped("Task failed container health checks", "ServiceSchedulerInitiated"), None),
        (stopped("Essential container in task exited", "EssentialContainerExited"), None),
        (stopped("CannotPullContainerError: pull image manifest", "TaskFailedToStart"), None),
    ],
)
def test_which_stops_are_not_crashes(task, kind):
    found = not_a_crash(task)
    assert (found.kind if found else None) == kind


def test_replaced_summary_counts_each_kind_in_a_fixed_order():
    spot = stopped("Your Spot Task was interrupted.", "SpotInterruption")
    elb = stopped("Task failed ELB health checks in (target-group x)", "ServiceSchedulerInitiated")
    crash = stopped("Essential container in task exited", "EssentialContainerExited")
    assert replaced_summary([elb, spot, crash, spot]) == (
        "2 tasks reclaimed by Spot, replaced; 1 task failed ELB health checks, replaced"
    )
    assert replaced_summary([crash]) == ""


def mine(reason: str, code: str, stopped_at: str) -> dict:
    return stopped(reason, code) | {"startedBy": "ecs-svc/1", "stoppedAt": stopped_at}


@pytest.mark.parametrize(
    ("failed_tasks", "unhealthy", "replaced", "count"),
    [(0, [], ["spot", "elb"], 1), (2, ["elb"], ["spot"], 2)],
    ids=["after-a-healthy-task", "before-any-healthy-task"],
)
def test_elb_stops_are_failures_only_while_ecs_counts_failed_tasks(
    failed_tasks, unhealthy, replaced, count
):
    tasks = {
        "crash": mine("Essential container in task exited", "EssentialContainerExited", "3"),
        "elb": mine("Task failed ELB health checks in (target-group x)", "X", "2"),
        "spot": mine("Your Spot Task was interrupted.", "SpotInterruption", "1"),
        "other": stopped("Essential container in task exited", "X") | {"startedBy": "ecs-svc/0"},
    }
    found = sort_stops("ecs-svc/1", list(tasks.values()), failed_tasks)
    assert (found.crashed, found.unhealthy, found.replaced, found.count) == (
        (tasks["crash"],),
        tuple(tasks[k] for k in unhealthy),
        tuple(tasks[k] for k in replaced),  # oldest first
        count,
    )
    assert found.failed == tuple(tasks[k] for k in [*unhealthy, "crash"])


@pytest.mark.parametrize(
    ("message", "placement"),
    [
        (
            "(service chatbot) was unable to place a task because no container instance met "
            "all of its requirements. The closest matching container-instance 5c3e has "
            "insufficient CPU units available.",
            True,
        ),
        (
            "(service chatbot) was unable to place a task. Reason: Capacity is unavailable at "
            "this time. Please try again later or in a different availability zone.",
            True,
        ),
        (
            "(service chatbot) was unable to place a task. Reason: You\u2019ve reached the limit "
            "on the number of vCPUs you can run concurrently.",
            True,
        ),
        ("(service chatbot) was unable to place a task. Reason: Internal error.", True),
        ("(service chatbot) has started 1 tasks: (task 3f2a).", False),
        ("(service chatbot) is unable to consistently start tasks successfully.", False),
        (
            "(service chatbot) is unable to place a task in Availability Zone us-east-1a "
            "because no container instance met all of its requirements.",  # AZ rebalancing
            False,
        ),
    ],
)
def test_placement_failures_are_recognised_by_ecs_words(message, placement):
    assert is_placement_failure(message) is placement


def event(seconds: float, message: str = "(service chatbot) was unable to place a task.") -> dict:
    return {"createdAt": T0 + timedelta(seconds=seconds), "message": message}


@pytest.mark.parametrize(
    ("offsets", "repeated", "described"),
    [
        ((), False, "0 placement failures over 0ms"),
        ((0.0,), False, "1 placement failure"),
        ((0.0, 59.0), False, "2 placement failures over 59.0s"),
        ((0.0, 60.0), True, "2 placement failures over 1m00s"),
        ((0.0, 5.0, 10.0), True, "3 placement failures over 10.0s"),
    ],
)
def test_placement_failures_repeat_at_three_events_or_sixty_seconds(offsets, repeated, described):
    failures = PlacementFailures(tuple(event(s) for s in offsets))
    assert (failures.repeated, failures.describe()) == (repeated, described)


@pytest.mark.parametrize(
    ("waited", "repeated", "described"),
    [
        (59.0, False, "1 placement failure"),
        (60.0, True, "1 placement failure, no task placed for 1m00s"),
    ],
)
def test_one_placement_failure_counts_after_sixty_seconds_on_the_steps_clock(
    waited, repeated, described
):
    # ECS leaves a repeated event message out until its cause is resolved or six
    # hours pass: one event may be all there is.
    failures = PlacementFailures((event(0.0),), waited=waited)
    assert (failures.repeated, failures.describe()) == (repeated, described)


def test_three_events_are_said_as_such_whatever_the_time_waited():
    failures = PlacementFailures(tuple(event(s) for s in (0.0, 2.0, 4.0)), waited=4.5)
    assert failures.describe() == "3 placement failures over 4.0s"


def test_time_waited_alone_is_no_placement_failure():
    assert not PlacementFailures((), waited=600.0).repeated


def test_the_newest_placement_failure_is_quoted():
    failures = PlacementFailures((event(0, "first"), event(5, "newest")))
    assert failures.newest == "newest"


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({}, RolloutConfig("ROLLING", 0, ())),
        ({"strategy": "ROLLING", "bakeTimeInMinutes": 5}, RolloutConfig("ROLLING", 5, ())),
        (
            {"alarms": {"alarmNames": ["a", "b"], "enable": True, "rollback": False}},
            RolloutConfig("ROLLING", 0, ("a", "b")),
        ),
        (
            {"alarms": {"alarmNames": ["a"], "enable": False, "rollback": True}},
            RolloutConfig("ROLLING", 0, ()),
        ),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10}, RolloutConfig("BLUE_GREEN", 10)),
    ],
)
def test_rollout_config_reads_botocores_field_names(configuration, expected):
    assert RolloutConfig.of({"deploymentConfiguration": configuration}) == expected


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (RolloutConfig(), ""),
        (RolloutConfig(bake_minutes=5), "ECS bakes for 5m"),
        (RolloutConfig(bake_minutes=5, alarms=("a", "b")), "ECS bakes for 5m (alarms a, b)"),
        (
            RolloutConfig(alarms=("a",)),
            "ECS watches alarms a for a bake time it computes from them",
        ),
    ],
)
def test_what_ecs_does_after_the_tasks_are_healthy(config, said):
    assert config.baking() == said


def test_without_a_timeout_the_wait_is_the_default_plus_the_bake_time():
    clock = FakeClock()
    limit = wait_limit(clock, Deadline.after(clock, None), RolloutConfig(bake_minutes=5))
    assert limit.deadline.remaining() == 35 * 60
    assert limit.warning == ""
    plain = wait_limit(clock, Deadline.after(clock, None), RolloutConfig())
    assert plain.deadline.remaining() == 30 * 60
    assert plain.within == "within the step's default wait of 30m (set timeout: to wait longer)"


@pytest.mark.parametrize(
    ("timeout", "bake", "warns"),
    [(1199.0, 15, True), (1200.0, 15, False), (60.0, 0, False)],
)
def test_a_timeout_shorter_than_bake_time_plus_a_margin_warns(timeout, bake, warns):
    clock = FakeClock()
    deadline = Deadline.after(clock, timeout)
    limit = wait_limit(clock, deadline, RolloutConfig(bake_minutes=bake))
    assert limit.deadline is deadline
    assert limit.within == "before the step's timeout"
    assert bool(limit.warning) is warns
