"""ecs.describe against moto's server, on a rollout left mid-crash by ``ecs_driver``."""

from __future__ import annotations

import pytest

from opskit.errors import StepError
from opskit.steps.ecs_describe import STEP
from tests.ecs_driver import (
    CLUSTER,
    CRASH_REASON,
    FAMILY,
    LOG_GROUP,
    SERVICE,
    CallRecorder,
    EcsDriver,
    build_stack,
)


@pytest.fixture
def crashed(aws):
    """A forced deployment whose new task crashed once; the old task still runs."""
    driver = build_stack(aws)
    aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    task = driver.start_tasks()[0]
    driver.put_logs(task, ["boot", "NameError: name 'client' is not defined"])
    driver.crash()
    yield driver, task
    EcsDriver.uninstall()


def test_describe_reports_deployments_tasks_stopped_reasons_and_events(crashed, aws, make_ctx):
    driver, task = crashed
    old_task = driver.tasks()[0]
    new_id, old_id = (d["id"] for d in driver.deployments)
    calls = CallRecorder(aws.client("ecs"))
    redeploy = {"uses": "ecs.redeploy", "outputs": {"deployment_id": new_id}}
    ctx = make_ctx(steps={"redeploy": redeploy})

    result = STEP.run(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE}))

    assert result.status == "ok"
    outputs = vars(result.outputs)
    assert [(d["id"], d["status"], d["failed_tasks"]) for d in outputs["deployments"]] == [
        (new_id, "PRIMARY", 1),
        (old_id, "ACTIVE", 0),
    ]
    (stopped,) = outputs["stopped_tasks"]
    assert stopped["task_id"] == task.id
    assert stopped["started_by"] == new_id
    assert stopped["stopped_reason"] == CRASH_REASON
    assert stopped["containers"] == [
        {"name": "app", "last_status": "STOPPED", "exit_code": 1, "reason": ""}
    ]
    assert [t["task_id"] for t in outputs["running_tasks"]] == [old_task.id]
    assert outputs["events"][0]["message"] == (
        f"(service chatbot) has stopped 1 running tasks: (task {task.id})."
    )
    detail = result.detail.splitlines()
    assert detail[0] == (
        f"ECS service 'chatbot' in cluster 'chatbot' (ACTIVE): desired 1, running 1, "
        f"pending 0; task definition {FAMILY}:1"
    )
    assert detail[2] == (
        f"  PRIMARY {new_id} {FAMILY}:1 IN_PROGRESS: running 0/1, pending 0, failed 1 "
        f"(ECS deployment {new_id} in progress.)"
    )
    assert f"  {old_task.id} ({FAMILY}:1) RUNNING, started by {old_id} [OLD]" in detail
    assert (
        f"  task {task.id} ({FAMILY}:1) stopped: {CRASH_REASON} [EssentialContainerExited] [NEW]"
        in detail
    )
    assert "    container app: exit code 1" in detail
    assert f"    last 2 lines of {LOG_GROUP} ecs/app/{task.id}:" in detail
    assert "      | NameError: name 'client' is not defined" in detail
    assert calls.writes == []


def test_describe_of_a_missing_service_is_one_line(aws, make_ctx):
    aws.client("ecs").create_cluster(clusterName=CLUSTER)
    with pytest.raises(StepError) as caught:
        STEP.run(make_ctx(), STEP.coerce_inputs({"cluster": CLUSTER, "service": "gone"}))
    assert str(caught.value) == "target 'test': ECS service 'gone' in cluster 'chatbot' not found"


def test_describe_is_read_only_so_dry_run_runs_it():
    assert STEP.read_only is True and STEP.plan is None
