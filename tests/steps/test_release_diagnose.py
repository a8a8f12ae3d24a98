"""release.diagnose against moto's server: the running task's logged digest, the
synced release, and what they mean together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.steps.release_diagnose import STEP as DIAGNOSE
from opskit.steps.s3_sync import STEP as SYNC
from tests.ecs_driver import CLUSTER, SERVICE, build_stack, clock
from tests.steps.s3_helpers import BUCKET, DEST, write_tree

PIPELINE = "https://ci.example/chatbot/-/pipelines/7"


def test_the_running_task_runs_the_synced_release_never_proven_live(
    aws: Any, make_ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_PIPELINE_URL", PIPELINE)  # who synced, as the record says
    driver = build_stack(aws)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    source = write_tree(tmp_path / "src", {"chatbot_app.py": "import streamlit\n"})
    synced = SYNC.run(
        make_ctx(clock=FakeClock(now=1_700_000_000)),
        SYNC.coerce_inputs({"source": str(source), "destination": DEST}),
    )
    digest = synced.outputs.digest
    (task,) = driver.tasks()
    driver.put_logs(task, ["starting", f"code digest {digest} verified"])

    result = DIAGNOSE.run(
        make_ctx(clock=clock()),
        DIAGNOSE.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, "destination": DEST}),
    )

    assert result.outputs.running_digests == {task.id: digest}
    assert result.outputs.live_digest == digest
    assert result.outputs.findings == [
        f"running code is the synced code: release {digest[:12]} (synced "
        f"2023-11-14T22:13:20Z by {PIPELINE}, no verdict)",
        f"the live release {digest[:12]} was never proven live (no recorded verdict); no "
        "other release passed, so there is nothing to roll back to",
    ]
