"""release.diagnose's reading of the service's stopped tasks, on moto with the ECS driver.

Only stops that say something about the code count: a Spot reclaim, a retirement,
a scale-in or an ELB replacement is ECS replacing a task (``opskit.ecs.stops``).
"""

from __future__ import annotations

import pytest

from opskit.steps.release_diagnose import STEP
from tests.ecs_driver import CLUSTER, CRASH_REASON, SERVICE, EcsDriver, build_stack

BUCKET = "chatbot-code"


@pytest.fixture
def stack(aws):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    driver = build_stack(aws)
    aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    yield driver
    EcsDriver.uninstall()


def diagnose(make_ctx):
    inputs = {"cluster": CLUSTER, "service": SERVICE, "destination": f"s3://{BUCKET}/src/"}
    return STEP.run(make_ctx(), STEP.coerce_inputs(inputs))


def test_a_spot_reclaim_is_not_a_stopped_task_to_worry_about(stack, make_ctx):
    stack.start_tasks()
    stack.reclaim()
    (running,) = stack.start_tasks()  # ECS's replacement
    stack.drain_old()  # a scale-in: no problem either
    stack.complete()

    result = diagnose(make_ctx)

    assert result.outputs.findings == [
        f"task(s) {running.id[:12]} logged no code digest in the last 168h: which code they "
        "run cannot be told from here"
    ]


def test_a_crash_is_said_and_a_newer_reclaim_beside_it_is_not(stack, make_ctx):
    stack.start_tasks()
    stack.crash()
    stack.start_tasks()
    stack.reclaim()  # the newest stop, and no problem

    result = diagnose(make_ctx)

    assert f"1 task(s) stopped recently; the newest: {CRASH_REASON}" in result.outputs.findings
