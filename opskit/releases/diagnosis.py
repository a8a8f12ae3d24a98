"""Judge the facts an on-call engineer gathers first, in words: "what this means".

Pure: the facts come in (what each running task reported as its code digest,
the current manifest's digest, the release records, the service's primary
deployment, the bucket check and the script health check) and a short list of
findings comes out, each saying what it means and what to run next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opskit.manifest import STAGING_DIR
from opskit.releases.format import ReleaseRecord

REDEPLOY = "opskit run playbooks/redeploy.yaml"
ROLLBACK = "opskit run playbooks/rollback.yaml"


@dataclass
class Facts:
    running: Mapping[str, str | None]  # task id -> the code digest it logged (None: not found)
    live_digest: str | None  # the current manifest's
    live_staged: int = 0  # files the current manifest reads from staging (an interim one)
    records: Sequence[ReleaseRecord] = ()
    primary: Mapping[str, Any] = field(default_factory=dict)  # the PRIMARY deployment
    stopped_reason: str | None = None  # the newest stopped task's reason
    stopped_count: int = 0
    bucket_mismatches: Sequence[str] = ()
    script_health: str | None = None  # the probe step's status, when it ran
    lookback: str = ""
    logs_unread: str | None = None  # why the running tasks' logs were not read to the end


def _release(records: Sequence[ReleaseRecord], digest: str) -> str:
    record = next((r for r in records if r.problem is None and r.digest == digest), None)
    if record is None:
        return f"{digest[:12]} (not a recorded release)"
    verdict = record.status if record.status != "unknown" else "no verdict"
    return f"{digest[:12]} (synced {record.synced_at} by {record.who}, {verdict})"


def _live_verdict(
    records: Sequence[ReleaseRecord], live: str, last_good: ReleaseRecord | None
) -> list[str]:
    """What the live release's runs said: a failure is worth saying even when a
    later run of the same tree passed partially (``--only upload``)."""
    runs = [r for r in records if r.problem is None and r.digest == live]
    if not runs:
        return []
    back = (
        f"roll back to the last good release {last_good.digest[:12]}: {ROLLBACK}"
        if last_good is not None and last_good.digest != live
        else "no other release passed, so there is nothing to roll back to"
    )
    if runs[0].status == "passed":
        return []
    failed = next((r for r in runs if r.status in ("failed", "interrupted", "error")), None)
    if failed is not None:
        verdict = failed.verdict
        at = f" at step {verdict.failed_step}" if verdict and verdict.failed_step else ""
        return [f"the live release {live[:12]} {failed.status}{at} when it was released; {back}"]
    why = "a partial run (--from/--only)" if runs[0].status == "partial" else "no recorded verdict"
    return [f"the live release {live[:12]} was never proven live ({why}); {back}"]


def findings(facts: Facts) -> list[str]:
    found: list[str] = []
    records = facts.records
    last_good = next((r for r in records if r.problem is None and r.status == "passed"), None)
    state = facts.primary.get("rolloutState")
    if state == "FAILED":
        found.append(
            f"the newest deployment {facts.primary.get('id')} FAILED "
            f"({facts.primary.get('rolloutStateReason') or 'no reason given'}); the tasks it "
            "replaced keep serving"
        )
    elif state == "IN_PROGRESS":
        found.append(
            f"deployment {facts.primary.get('id')} is still IN_PROGRESS: tasks are being "
            "replaced; look again in a minute"
        )
    if not facts.running:
        found.append("no task is running: nothing serves the app; read the stopped tasks above")
    digests = {d for d in facts.running.values() if d}
    unknown = sorted(t for t, d in facts.running.items() if not d)
    if unknown and facts.logs_unread:
        found.append(
            f"the code digest of task(s) {', '.join(t[:12] for t in unknown)} is unknown: "
            f"{facts.logs_unread}; run this again in a few minutes"
        )
    elif unknown:
        found.append(
            f"task(s) {', '.join(t[:12] for t in unknown)} logged no code digest in the last "
            f"{facts.lookback or 'window read'}: which code they run cannot be told from here"
        )
    if len(digests) > 1:
        shown = "; ".join(
            f"{t[:12]} runs {_release(records, d)}" for t, d in sorted(facts.running.items()) if d
        )
        found.append(f"the running tasks run different code: {shown}")
    live = facts.live_digest
    if digests and live and digests != {live}:
        running = ", ".join(_release(records, d) for d in sorted(digests))
        found.append(
            f"running code is not the synced code: the running task(s) report {running}, the "
            f"bucket's manifest says {_release(records, live)}; a sync without a redeploy "
            f"leaves the old code running: run the redeploy playbook ({REDEPLOY})"
        )
    elif digests and live and digests == {live}:
        found.append(f"running code is the synced code: release {_release(records, live)}")
    if live:
        found += _live_verdict(records, live, last_good)
    if live and facts.live_staged:
        found.append(
            f"the live release {live[:12]} is interim: its manifest reads {facts.live_staged} "
            f"file(s) from {STAGING_DIR} (a sync stopped before moving them into place); a "
            f"task that starts gets it intact; run the sync again to finish ({REDEPLOY})"
        )
    if facts.bucket_mismatches:
        shown = ", ".join(m.split(": ", 1)[0] for m in list(facts.bucket_mismatches)[:5])
        found.append(
            f"the bucket does not match its manifest ({len(facts.bucket_mismatches)} key(s): "
            f"{shown}): something other than opskit changed it; the next task start would "
            f"refuse it: sync again ({REDEPLOY}) or restore a release ({ROLLBACK})"
        )
    if facts.script_health in ("failed", "error"):
        found.append(
            "the script health check fails: the app's script raises on the task behind the "
            "URL; read its log lines above (labelled NEW/OLD)"
        )
    if facts.stopped_count and facts.stopped_reason:
        found.append(
            f"{facts.stopped_count} task(s) stopped recently; the newest: {facts.stopped_reason}"
        )
    problems = [f for f in found if not f.startswith("running code is the synced code")]
    if not problems:
        found.append("nothing looks wrong: the running code is the synced release and it answers")
    return found
