"""ecs.describe against moto's server, on a rollout left mid-crash by ``ecs_driver``."""

from __future__ import annotations

import json
import re

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


def test_a_dry_run_runs_describe_and_shows_the_rollout_as_it_is(
    crashed, aws_endpoint, tmp_path, cli
):
    """ecs.describe only reads, so ``--dry-run`` runs it: the on-call engineer sees
    the crashed rollout, and nothing in it changes."""
    driver, task = crashed
    before = (driver.deployments, driver.tasks())
    path = tmp_path / "diagnose.yaml"
    path.write_text(
        f"""
name: diagnose
targets:
  here: {{aws: {{region: us-east-1, endpoint_url: "{aws_endpoint}"}}}}
steps:
  - {{id: describe, uses: ecs.describe, with: {{cluster: {CLUSTER}, service: {SERVICE}}}}}
"""
    )

    result = cli.run(path, "--dry-run", "--report", str(tmp_path / "out"))

    assert (result.returncode, result.stderr) == (0, "")
    lines = [re.sub(r"\b\d+(ms|\.\ds)\b", "T", line) for line in result.stdout.splitlines()]
    assert lines[:5] == [
        f"opskit run {path} · diagnose · target here · dry run",
        "  acting as arn:aws:sts::123456789012:user/moto (account 123456789012) in us-east-1; "
        "credentials from the environment (AWS_ACCESS_KEY_ID)",
        "▶ describe ecs.describe",
        f"✓ ok describe T  chatbot: 2 deployment(s), PRIMARY {driver.primary()['id']} "
        "IN_PROGRESS; 1 running, 1 recently stopped task(s)",
        "PASSED in T (exit 0)",
    ]
    (step,) = json.loads((tmp_path / "out" / "report.json").read_text())["steps"]
    assert step["status"] == "ok"
    assert [t["task_id"] for t in step["outputs"]["stopped_tasks"]] == [task.id]
    assert (driver.deployments, driver.tasks()) == before
