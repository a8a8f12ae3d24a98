"""The verdict over one described deployment: pure, so each rule is one case here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.ecs.placement import PlacementFailures
from opskit.ecs.watch import FAILED, SUCCEEDED, WAITING, Observation, Visibility, judge

MINE = "ecs-svc/111"
OLD = "ecs-svc/100"
TD1 = "arn:aws:ecs:us-east-1:123456789012:task-definition/chatbot:1"
TD2 = "arn:aws:ecs:us-east-1:123456789012:task-definition/chatbot:2"


def deployment(
    deployment_id: str = MINE,
    status: str = "PRIMARY",
    rollout: str | None = "IN_PROGRESS",
    desired: int = 1,
    running: int = 0,
    pending: int = 0,
    failed: int = 0,
    task_definition: str = TD2,
    reason: str = "",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": deployment_id,
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": pending,
        "failedTasks": failed,
    }
    if rollout is not None:
        record["rolloutState"] = rollout
        record["rolloutStateReason"] = reason
    return record


def stopped(started_by: str, reason: str = "Essential container in task exited") -> dict:
    return {
        "taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/chatbot/{started_by[-3:]}x",
        "startedBy": started_by,
        "stoppedReason": reason,
        "lastStatus": "STOPPED",
    }


def running_tasks(deployments: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """RUNNING tasks that agree with the deployments' counts, as ECS lists them."""
    return [
        {"taskArn": f"arn:aws:ecs:us-east-1:1:task/c/{d['id'][-3:]}{i}", "startedBy": d["id"],
         "lastStatus": "RUNNING", "desiredStatus": "RUNNING"}
        for d in deployments
        for i in range(d["runningCount"])
    ]  # fmt: skip


def verdict(
    *deployments: dict[str, Any],
    stops: list[dict] | None = None,
    max_failed: int = 2,
    running: list[dict] | None = None,
):
    service = {"deployments": list(deployments)}
    tasks = running_tasks(deployments) if running is None else running
    return judge(Observation(MINE, service, tasks, stops or []), max_failed)


CASES = [
    pytest.param(
        [deployment(rollout="COMPLETED", running=1)],
        [],
        SUCCEEDED,
        f"deployment {MINE} COMPLETED",
        id="completed",
    ),
    pytest.param(
        [deployment(rollout=None, running=1)],
        [],
        SUCCEEDED,
        f"deployment {MINE} COMPLETED",
        id="no-rollout-state-only-deployment-running-equals-desired",
    ),
    pytest.param(
        [deployment(rollout=None, running=1), deployment(OLD, "ACTIVE", None, running=1)],
        [],
        WAITING,
        "new task RUNNING, 1 old task draining",
        id="no-rollout-state-but-old-deployment-still-running",
    ),
    pytest.param(
        [deployment(rollout="COMPLETED", running=1), deployment(OLD, "ACTIVE", running=1)],
        [],
        WAITING,
        "new task RUNNING, 1 old task draining",
        id="completed-but-old-task-still-running",
    ),
    pytest.param(
        [deployment(), deployment(OLD, "ACTIVE", "COMPLETED", running=1)],
        [],
        WAITING,
        "waiting for the new task to start",
        id="nothing-started-yet",
    ),
    pytest.param(
        [deployment(pending=1), deployment(OLD, "ACTIVE", running=1)],
        [],
        WAITING,
        "new task PENDING",
        id="pending",
    ),
    pytest.param(
        [deployment(desired=3, running=1, pending=2), deployment(OLD, "ACTIVE", running=3)],
        [],
        WAITING,
        "1 of 3 new tasks RUNNING, 2 PENDING",
        id="partly-running",
    ),
    pytest.param(
        [deployment(running=1)],
        [],
        WAITING,
        "new task RUNNING, waiting for ECS to report the rollout COMPLETED",
        id="running-but-not-steady-yet",
    ),
    pytest.param(
        [
            deployment("ecs-svc/222", task_definition=TD1, reason="rolling back"),
            deployment(status="ACTIVE", rollout="FAILED", reason="circuit breaker tripped"),
        ],
        [],
        FAILED,
        f"deployment {MINE} was rolled back: deployment ecs-svc/222 (chatbot:1) is PRIMARY now "
        "(circuit breaker tripped)",
        id="circuit-breaker-rollback",
    ),
    pytest.param(
        [deployment("ecs-svc/333"), deployment(status="ACTIVE", running=1)],
        [],
        FAILED,
        f"deployment {MINE} was replaced: deployment ecs-svc/333 (chatbot:2) is PRIMARY now",
        id="another-deployment-took-over",
    ),
    pytest.param(
        [deployment(rollout="FAILED", reason="tasks failed to start")],
        [],
        FAILED,
        f"deployment {MINE} FAILED: tasks failed to start",
        id="failed",
    ),
    pytest.param(
        [deployment(running=0), deployment(OLD, "ACTIVE", running=1)],
        [stopped(MINE), stopped(MINE)],
        FAILED,
        f"2 tasks of deployment {MINE} stopped (max_failed_tasks 2): the new tasks keep crashing",
        id="crash-loop",
    ),
    pytest.param(
        [deployment(failed=2), deployment(OLD, "ACTIVE", running=1)],
        [],
        FAILED,
        f"2 tasks of deployment {MINE} stopped (max_failed_tasks 2): the new tasks keep crashing",
        id="failed-tasks-counter",
    ),
    pytest.param(
        [deployment(running=1), deployment(OLD, "ACTIVE", running=1)],
        [stopped(MINE), stopped(OLD), stopped(OLD)],
        WAITING,
        "new task RUNNING, 1 old task draining; 1 new task stopped so far (fails at 2)",
        id="other-deployments-stops-do-not-count",
    ),
    pytest.param(
        [deployment(running=1)],
        [stopped(MINE, "Scaling activity initiated by (deployment ecs-svc/999)")] * 2,
        WAITING,
        "new task RUNNING, waiting for ECS to report the rollout COMPLETED; 2 tasks scaled in "
        "by ECS",
        id="scale-in-is-not-a-failure",
    ),
]


@pytest.mark.parametrize(("deployments", "stops", "outcome", "summary"), CASES)
def test_verdict(deployments, stops, outcome, summary):
    result = verdict(*deployments, stops=stops)
    assert (result.outcome, result.summary) == (outcome, summary)


def test_state_line_says_counts_of_the_tracked_deployment_and_old_tasks():
    result = verdict(deployment(running=1, pending=0), deployment(OLD, "ACTIVE", running=2))
    assert result.state == f"deployment {MINE} IN_PROGRESS: running 1/1, pending 0, 2 old running"
    assert result.data == {
        "rollout_state": "IN_PROGRESS",
        "running": 1,
        "pending": 0,
        "desired": 1,
        "old_running": 2,
        "failed_tasks": 0,
    }


def test_failed_tasks_are_the_tracked_deployments_own_stops():
    stops = [stopped(MINE), stopped(OLD), stopped(MINE)]
    result = verdict(deployment(), stops=stops)
    assert [t["startedBy"] for t in result.failed_tasks] == [MINE, MINE]


def test_max_failed_tasks_one_fails_at_the_first_stop():
    result = verdict(deployment(), stops=[stopped(MINE)], max_failed=1)
    assert result.outcome == FAILED


def test_a_completed_record_without_tasks_started_by_it_is_not_success_yet():
    # A record renamed in place (moto's forced redeploy) keeps COMPLETED and the old counts.
    result = verdict(deployment(rollout="COMPLETED", running=1), running=[])
    assert (result.outcome, result.summary) == (
        WAITING,
        "waiting for the new task to start (the deployment counts 1 running, but 0 RUNNING "
        "task(s) carry its id)",
    )


def test_old_tasks_still_listed_keep_it_waiting_even_when_no_old_deployment_is():
    old_task = {"startedBy": OLD, "lastStatus": "RUNNING", "desiredStatus": "RUNNING"}
    draining = {"startedBy": OLD, "lastStatus": "DEACTIVATING", "desiredStatus": "STOPPED"}
    mine = deployment(rollout="COMPLETED", running=1)
    tasks = [*running_tasks((mine,)), old_task]
    result = verdict(mine, running=tasks, stops=[draining])
    assert (result.outcome, result.summary) == (WAITING, "new task RUNNING, 2 old tasks draining")


# --- what the wait loop remembers, handed to the judge ----------------------------


def observe(*deployments, seen=True, reads=1, seconds=0.0, missing=0, **extra):
    service = {"deployments": list(deployments)}
    running = extra.pop("running", running_tasks(deployments))
    stops = extra.pop("stops", [])
    visibility = Visibility(seen, reads, seconds, missing)
    return judge(Observation(MINE, service, running, stops, visibility=visibility, **extra), 2)


def test_a_deployment_never_seen_is_not_visible_yet_and_another_primary_is_the_stale_state():
    stale = deployment(OLD, "PRIMARY", "COMPLETED", running=1, task_definition=TD1)
    result = observe(stale, seen=False, reads=1, seconds=0.0)
    assert (result.outcome, result.state, result.summary, result.replaced_by) == (
        WAITING,
        f"deployment {MINE} not visible yet in DescribeServices (ECS is eventually consistent)",
        "waiting up to 30s for it (1 read so far)",
        None,
    )
    assert result.not_visible


@pytest.mark.parametrize(
    ("reads", "seconds", "outcome"),
    [(1, 45.0, WAITING), (6, 29.9, WAITING), (2, 30.0, FAILED)],
)
def test_never_seen_fails_only_once_both_reads_and_seconds_have_passed(reads, seconds, outcome):
    result = observe(
        deployment(OLD, "PRIMARY", "COMPLETED"), seen=False, reads=reads, seconds=seconds
    )
    assert result.outcome == outcome
    if outcome == FAILED:
        assert result.summary == (
            f"deployment {MINE} never appeared in DescribeServices: 2 reads over 30.0s since "
            "UpdateService answered"
        )
        assert result.not_visible


def test_once_seen_a_deployment_missing_from_one_read_is_not_visible_in_that_read():
    # Eventual consistency does not promise that reads never go backwards: the
    # previous deployment PRIMARY again, older than ours, is a stale read.
    stale = deployment(OLD, "PRIMARY", "COMPLETED", task_definition=TD1) | {"createdAt": 900.0}
    result = observe(stale, seen=True, missing=1, created_at=1_000.0)
    assert (result.outcome, result.state, result.summary, result.replaced_by) == (
        WAITING,
        f"deployment {MINE} not visible in this read of DescribeServices (an earlier read "
        "listed it; ECS is eventually consistent)",
        "waiting for the next read (missing from 2 reads in a row, it has disappeared)",
        None,
    )


def test_once_seen_a_deployment_missing_from_two_reads_in_a_row_disappeared():
    stale = deployment(OLD, "PRIMARY", "COMPLETED", task_definition=TD1) | {"createdAt": 900.0}
    result = observe(stale, seen=True, missing=2, created_at=1_000.0)
    assert (result.outcome, result.summary) == (
        FAILED,
        f"deployment {MINE} disappeared from the service; deployment {OLD} (chatbot:1) is "
        "PRIMARY now",
    )
    assert result.replaced_by == stale
    assert not result.not_visible


def test_once_seen_a_deployment_missing_beside_a_newer_primary_was_replaced_at_once():
    newer = deployment("ecs-svc/222", "PRIMARY", task_definition=TD1) | {"createdAt": 1_100.0}
    result = observe(newer, seen=True, missing=1, created_at=1_000.0)
    assert (result.outcome, result.summary) == (
        FAILED,
        f"deployment {MINE} disappeared from the service; deployment ecs-svc/222 (chatbot:1) "
        "is PRIMARY now",
    )
    assert result.replaced_by == newer


def test_a_listed_task_not_found_yet_keeps_a_completed_deployment_waiting():
    mine = deployment(rollout="COMPLETED", running=1)
    result = observe(mine, not_visible_tasks=("arn:aws:ecs:us-east-1:1:task/c/old",))
    assert (result.outcome, result.summary) == (
        WAITING,
        "new task RUNNING; 1 listed task not visible yet in DescribeTasks (ECS is eventually "
        "consistent)",
    )


def starting(task_id: str, status: str, created: float) -> dict:
    return {
        "taskArn": f"arn:aws:ecs:us-east-1:1:task/c/{task_id}",
        "startedBy": MINE,
        "lastStatus": status,
        "desiredStatus": "RUNNING",
        "createdAt": created,
    }


def test_starting_tasks_are_named_with_their_status_and_age():
    mine = deployment(desired=2, pending=2)
    tasks = [starting("b", "PENDING", 1_000.0), starting("a", "PROVISIONING", 900.0)]
    result = observe(mine, deployment(OLD, "ACTIVE", running=2), running=tasks, now=1_065.0)
    assert result.summary == (
        "0 of 2 new tasks RUNNING; task a PROVISIONING for 2m45s, task b PENDING for 1m05s"
    )


def test_repeated_placement_failures_fail_quoting_the_newest_and_naming_starting_tasks():
    events = PlacementFailures(
        tuple({"createdAt": 1_000.0 + s, "message": f"unable #{s:g}"} for s in (0, 20, 40))
    )
    result = observe(
        deployment(pending=1),
        running=[starting("a", "PROVISIONING", 990.0)],
        placement=events,
        now=1_050.0,
    )
    assert (result.outcome, result.summary) == (
        FAILED,
        f"ECS could not place the tasks of deployment {MINE} (3 placement failures over "
        "40.0s): unable #40; task a PROVISIONING for 1m00s",
    )


def test_the_time_rule_never_fails_a_deployment_that_has_a_task_starting():
    # Handed in with time waited, as no wait loop builds it: never "no task placed"
    # while a task is named.
    events = PlacementFailures(({"createdAt": 1_000.0, "message": "unable"},), waited=90.0)
    result = observe(
        deployment(pending=1),
        running=[starting("a", "PENDING", 1_010.0)],
        placement=events,
        now=1_070.0,
    )
    assert (result.outcome, result.summary) == (
        WAITING,
        "new task a PENDING for 1m00s; ECS could not place a task (1 placement failure so far)",
    )


def test_a_single_placement_failure_is_said_while_waiting():
    events = PlacementFailures(({"createdAt": 1_000.0, "message": "unable"},))
    result = observe(deployment(), placement=events)
    assert (result.outcome, result.summary) == (
        WAITING,
        "waiting for the new task to start; ECS could not place a task (1 placement failure "
        "so far)",
    )


def test_reclaims_are_not_counted():
    # ECS leaves them out of failedTasks too: it stays 0.
    spot = stopped(MINE, "Your Spot Task was interrupted.") | {"stopCode": "SpotInterruption"}
    result = observe(deployment(running=1), stops=[spot, spot])
    assert (result.outcome, result.summary) == (
        WAITING,
        "new task RUNNING, waiting for ECS to report the rollout COMPLETED; 2 tasks reclaimed "
        "by Spot, replaced",
    )
    assert result.failed_tasks == ()
    assert result.replaced == "2 tasks reclaimed by Spot, replaced"


ELB = "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:1:tg/c/1)"


def elb_stop(task_id: str) -> dict:
    return stopped(MINE, ELB) | {
        "taskArn": f"arn:aws:ecs:us-east-1:1:task/c/{task_id}",
        "stopCode": "ServiceSchedulerInitiated",
    }


def test_elb_health_check_failures_ecs_counts_in_failed_tasks_fail_saying_so():
    # failedTasks counts them only before the deployment's first healthy task:
    # the new revision never got healthy behind the load balancer.
    stops = [elb_stop("a"), elb_stop("b")]
    result = observe(deployment(failed=2), deployment(OLD, "ACTIVE", running=1), stops=stops)
    assert (result.outcome, result.summary) == (
        FAILED,
        f"2 tasks of deployment {MINE} stopped (max_failed_tasks 2): 2 tasks failed ELB health "
        "checks before any was healthy",
    )
    assert result.failed_tasks == tuple(stops)  # the evidence the failure message shows
    assert result.replaced_tasks == ()


def test_an_elb_health_check_failure_ecs_counts_is_said_while_waiting():
    result = observe(
        deployment(failed=1), deployment(OLD, "ACTIVE", running=1), stops=[elb_stop("a")]
    )
    assert (result.outcome, result.summary) == (
        WAITING,
        "waiting for the new task to start; 1 new task stopped so far (fails at 2): 1 task "
        "failed ELB health checks before any was healthy",
    )


def test_a_crash_and_an_elb_failure_are_both_said():
    stops = [elb_stop("a"), stopped(MINE)]
    result = observe(deployment(failed=2), stops=stops)
    assert (result.outcome, result.summary) == (
        FAILED,
        f"2 tasks of deployment {MINE} stopped (max_failed_tasks 2): 1 task failed ELB health "
        "checks before any was healthy; the new tasks keep crashing",
    )


def test_an_elb_replacement_after_a_healthy_task_is_not_a_failure():
    # ECS reset failedTasks at the first healthy task and stopped counting.
    result = observe(deployment(running=1), stops=[elb_stop("a"), elb_stop("b")])
    assert (result.outcome, result.summary) == (
        WAITING,
        "new task RUNNING, waiting for ECS to report the rollout COMPLETED; 2 tasks failed ELB "
        "health checks, replaced",
    )
    assert result.failed_tasks == ()


def test_a_container_health_check_failure_is_still_a_crash():
    unhealthy = stopped(MINE, "Task failed container health checks")
    result = observe(deployment(), stops=[unhealthy, unhealthy])
    assert result.outcome == FAILED


@pytest.mark.parametrize(
    ("baking", "summary"),
    [
        ("", "new task RUNNING, waiting for ECS to report the rollout COMPLETED"),
        (
            "ECS bakes for 5m (alarms a)",
            "new task RUNNING; ECS bakes for 5m (alarms a) before it reports COMPLETED",
        ),
    ],
)
def test_healthy_tasks_in_progress_say_what_ecs_is_baking(baking, summary):
    result = observe(deployment(running=1), baking=baking)
    assert (result.outcome, result.summary) == (WAITING, summary)


def test_the_docs_show_the_visibility_lines_as_the_step_prints_them():
    docs = (Path(__file__).parents[2] / "docs" / "ecs.md").read_text()
    ours = "ecs-svc/27358"
    stale = {"deployments": [deployment(OLD, "PRIMARY", "COMPLETED", task_definition=TD1)]}
    never_seen = judge(Observation(ours, stale, visibility=Visibility(False, 1, 0.0)), 2)
    missing = judge(Observation(ours, stale, visibility=Visibility(True, 3, 10.0, 1)), 2)
    # wait.follow's progress line: "{state}: {summary} ({time left})"
    assert f"{never_seen.state}: {never_seen.summary} (10m00s left)\n" in docs
    assert f"{missing.state}: {missing.summary} (9m55s left)\n" in docs
