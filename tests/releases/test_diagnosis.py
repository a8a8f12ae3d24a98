"""What diagnose.yaml says the facts mean (``opskit.releases.diagnosis``), case by case."""

from __future__ import annotations

from opskit.manifest import Manifest, ManifestEntry
from opskit.releases.diagnosis import Facts, findings
from opskit.releases.format import ReleaseRecord, Verdict

A = Manifest([ManifestEntry("app.py", 1, "a" * 64)])
B = Manifest([ManifestEntry("app.py", 1, "b" * 64)])


def record(manifest: Manifest, status: str, at: str, step: str | None = None) -> ReleaseRecord:
    verdict = Verdict(status, at, failed_step=step)
    return ReleaseRecord(
        f"k-{at}", f"n-{at}", manifest, synced_at=at, by="ana@laptop", verdict=verdict
    )


HISTORY = [record(B, "failed", "t2", "redeploy"), record(A, "passed", "t1")]


def test_the_running_code_being_the_synced_passed_release_is_said_and_nothing_else():
    said = findings(Facts(running={"task1": A.digest}, live_digest=A.digest, records=HISTORY[1:]))

    assert said == [
        f"running code is the synced code: release {A.digest[:12]} "
        "(synced t1 by ana@laptop, passed)",
        "nothing looks wrong: the running code is the synced release and it answers",
    ]


def test_a_sync_without_a_redeploy_says_so_and_names_the_redeploy_playbook():
    said = findings(Facts(running={"task1": A.digest}, live_digest=B.digest, records=HISTORY))

    assert said[0] == (
        f"running code is not the synced code: the running task(s) report {A.digest[:12]} "
        f"(synced t1 by ana@laptop, passed), the bucket's manifest says {B.digest[:12]} "
        "(synced t2 by ana@laptop, failed); a sync without a redeploy leaves the old code "
        "running: run the redeploy playbook (opskit run playbooks/redeploy.yaml)"
    )
    assert said[1] == (
        f"the live release {B.digest[:12]} failed at step redeploy when it was released; "
        f"roll back to the last good release {A.digest[:12]}: opskit run playbooks/rollback.yaml"
    )


def test_failed_deployment_bucket_mismatch_broken_script_and_silent_task_are_each_said():
    said = findings(
        Facts(
            running={"task1": None},
            live_digest=A.digest,
            records=HISTORY[1:],
            primary={"id": "ecs-svc/9", "rolloutState": "FAILED", "rolloutStateReason": "crashed"},
            bucket_mismatches=["app.py: size 2, manifest says 1"],
            script_health="failed",
            stopped_count=2,
            stopped_reason="Essential container in task exited",
            lookback="168h",
        )
    )

    assert said == [
        "the newest deployment ecs-svc/9 FAILED (crashed); the tasks it replaced keep serving",
        "task(s) task1 logged no code digest in the last 168h: which code they run cannot be "
        "told from here",
        "the bucket does not match its manifest (1 key(s): app.py): something other than "
        "opskit changed it; the next task start would refuse it: sync again (opskit run "
        "playbooks/redeploy.yaml) or restore a release (opskit run playbooks/rollback.yaml)",
        "the script health check fails: the app's script raises on the task behind the URL; "
        "read its log lines above (labelled NEW/OLD)",
        "2 task(s) stopped recently; the newest: Essential container in task exited",
    ]


def test_no_running_task_is_said():
    said = findings(Facts(running={}, live_digest=A.digest, records=HISTORY[1:]))

    assert said[0] == "no task is running: nothing serves the app; read the stopped tasks above"
