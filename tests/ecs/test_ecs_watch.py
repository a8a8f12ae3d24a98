"""The verdict over one described deployment: pure, so each rule is one case here."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.ecs.watch import FAILED, SUCCEEDED, WAITING, Observation, judge

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
        [deployment(OLD, "PRIMARY", "COMPLETED", task_definition=TD1)],
        [],
        FAILED,
        f"deployment {MINE} disappeared from the service; deployment {OLD} (chatbot:1) "
        "is PRIMARY now",
        id="disappeared",
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
