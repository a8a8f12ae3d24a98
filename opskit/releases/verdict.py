"""The run's verdict, written on the release record its ``s3.sync`` wrote.

Called by the runner once the steps (and ``on_failure``) have run, while a
sandbox started for the run is still up, so the verdict is the run's own
status: ``passed``, ``failed``, ``interrupted`` or ``error``, with the ECS
deployment id when an ``ecs.redeploy`` step started one. A run that passed with
steps left out by ``--from``/``--only`` records ``partial``: it never proved the
release live, so ``last_good`` never picks it. A dry run writes no record, and a
run whose sync failed has no release: both record nothing.

``result`` is the run's ``RunResult`` (read by attribute: this package sits
below the engine and does not import it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.errors import OpskitError
from opskit.releases.records import Verdict, set_verdict

if TYPE_CHECKING:
    from opskit.aws import AwsAccess


@dataclass(frozen=True)
class PendingVerdict:
    records: tuple[str, ...]  # s3:// URLs of the records this run's syncs wrote
    verdict: Verdict


def pending_verdict(result: Any, now: float | None = None) -> PendingVerdict | None:
    """What to record for ``result``; ``None`` when there is nothing to record."""
    if result.dry_run:
        return None
    records = tuple(
        str(step.outputs["release_record"])
        for step in result.steps
        if step.uses == "s3.sync" and step.outputs.get("release_record")
    )
    if not records:
        return None
    deployment_id = next(
        (
            str(step.outputs["deployment_id"])
            for step in result.steps
            if step.uses == "ecs.redeploy" and step.outputs.get("deployment_id")
        ),
        None,
    )
    failed = result.failed_step
    status = str(result.status)
    if status == "passed" and any(_left_out(step) for step in result.steps):
        status = "partial"  # passed, but --from/--only skipped steps: never proven live
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    verdict = Verdict(
        status=status,
        recorded_at=stamp,
        run_id=str(result.run_id),
        playbook=str(result.playbook),
        deployment_id=deployment_id,
        failed_step=failed.id if failed is not None else None,
    )
    return PendingVerdict(records, verdict)


def _left_out(step: Any) -> bool:
    return not step.selected


def record_verdict(aws: AwsAccess, pending: PendingVerdict) -> list[tuple[str, str]]:
    """Write the verdict on each record; returns ``(event kind, message)`` pairs to
    show. A record that cannot be written is a warning: the run's own result
    stands, only the history misses this verdict."""
    from botocore.exceptions import BotoCoreError, ClientError

    messages: list[tuple[str, str]] = []
    s3 = None
    for url in pending.records:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        name = key.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            s3 = s3 or aws.client("s3")
            set_verdict(s3, bucket, key, pending.verdict, aws.call)
        except (OpskitError, ClientError, BotoCoreError, ValueError) as err:
            messages.append(("warning", f"could not record the verdict on release {name}: {err}"))
            continue
        detail = (
            f", deployment {pending.verdict.deployment_id}" if pending.verdict.deployment_id else ""
        )
        messages.append(("info", f"release {name} recorded as {pending.verdict.status}{detail}"))
    return messages
