"""The run's verdict, written on the release record a sync wrote.

``s3.sync`` takes part in the run's last phase (``StepType.finish``): once the
steps and ``on_failure`` have run, while a sandbox started for the run is still
up, the run's own status is written on the record its sync wrote: ``passed``,
``failed``, ``interrupted`` or ``error``, with the ECS deployment id when a step
of the run started one. A run that passed with steps left out by
``--from``/``--only`` records ``partial``: it never proved the release live, so
``last_good`` never picks it. A dry run writes no record, and a sync that
failed has none: both record nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opskit.errors import OpskitError
from opskit.releases.format import Verdict
from opskit.releases.store import set_verdict

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.model import RunResult


def verdict_of(result: RunResult, now: float | None = None) -> Verdict:
    """What to record for ``result``. The deployment is the newest step's
    ``deployment_id`` output (``ecs.redeploy`` declares one), as every "default:
    the ECS step's" input reads it."""
    deployment_id = next(
        (
            str(step.outputs["deployment_id"])
            for step in reversed(result.steps)
            if step.outputs.get("deployment_id")
        ),
        None,
    )
    failed = result.failed_step
    status: str = result.status
    if status == "passed" and any(not step.selected for step in result.steps):
        status = "partial"  # passed, but --from/--only skipped steps: never proven live
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return Verdict(
        status=status,
        recorded_at=stamp,
        run_id=result.run_id,
        playbook=result.playbook,
        deployment_id=deployment_id,
        failed_step=failed.id if failed is not None else None,
    )


def record_verdict(aws: AwsAccess, url: str, verdict: Verdict) -> list[tuple[str, str]]:
    """Write ``verdict`` on the record at ``url`` (``s3://bucket/key``); returns
    ``(event kind, message)`` pairs to show. A record that cannot be written is a
    warning: the run's own result stands, only the history misses this verdict."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = url.removeprefix("s3://").partition("/")
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        set_verdict(aws.client("s3"), bucket, key, verdict, aws.call)
    except (OpskitError, ClientError, BotoCoreError, ValueError) as err:
        return [("warning", f"could not record the verdict on release {name}: {err}")]
    detail = f", deployment {verdict.deployment_id}" if verdict.deployment_id else ""
    return [("info", f"release {name} recorded as {verdict.status}{detail}")]
