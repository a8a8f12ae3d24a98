"""s3.sync with keys under the prefix that no file can have (issue 21, point 8):
folder markers, ``//``, ``.``/``..`` components, backslashes. A delete sync deletes
each by its exact key and touches nothing outside the prefix; without ``delete``
they are named and left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.manifest import MANIFEST_NAME
from opskit.steps.s3_sync import STEP, SyncInputs
from tests.steps.s3_helpers import BUCKET, DEST, OperationLog, remote_keys, write_tree

ODD = {
    "src/dir/": "a folder marker",
    "src//x.py": "an empty component ('//')",
    "src/../evil.txt": "a '.' or '..' component",
    "src/./a.py": "a '.' or '..' component",
    "src/a\\b.py": "a backslash",
}
# what a resolving client would make of the odd keys: outside the prefix, or
# the files of the tree; none of them may be touched
OUTSIDE = {"evil.txt": b"outside", "x.py": b"outside", "a.py": b"outside", "src/": b""}
NAMED = (
    "'src/../evil.txt' (a '.' or '..' component), 'src/./a.py' (a '.' or '..' component), "
    "'src//x.py' (an empty component ('//')), 'src/a\\\\b.py' (a backslash), "
    "'src/dir/' (a folder marker)"
)


def inputs(source: Path, **extra) -> SyncInputs:
    return STEP.coerce_inputs({"source": str(source), "destination": DEST, **extra})


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    for key, body in OUTSIDE.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    for key in ODD:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"")
    return client


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {"app.py": "print('hi')\n", "core/x.py": "X = 1\n"})


def test_delete_sync_deletes_odd_keys_by_their_exact_key_and_nothing_outside(make_ctx, s3, source):
    result = STEP.run(make_ctx(), inputs(source, delete=True, max_delete="100%"))

    assert (result.status, result.outputs.uploaded, result.outputs.deleted) == ("changed", 2, 5)
    assert make_ctx.messages("warning") == [
        f"5 key(s) under {DEST} that no file can have: {NAMED}; delete: true deletes them "
        "by their exact key, never mapped to a local path"
    ]
    keys = remote_keys(s3)
    assert sorted(keys) == sorted([*OUTSIDE, "src/app.py", "src/core/x.py", f"src/{MANIFEST_NAME}"])
    assert {key: keys[key] for key in OUTSIDE} == OUTSIDE


def test_dry_run_of_a_delete_sync_names_each_odd_key_whole(make_ctx, s3, source):
    oplog = OperationLog(s3)

    result = STEP.plan(make_ctx(), inputs(source, delete=True, max_delete="100%"))
    oplog.close()

    assert set(oplog.operations) <= {"ListObjectsV2", "GetObject", "HeadObject"}
    assert result.outputs.planned_deletes == ["../evil.txt", "./a.py", "/x.py", "a\\b.py", "dir/"]
    assert make_ctx.messages("info")[2:7] == [
        f"would delete the key 'src/../evil.txt' of s3://{BUCKET} (a '.' or '..' component)",
        f"would delete the key 'src/./a.py' of s3://{BUCKET} (a '.' or '..' component)",
        f"would delete the key 'src//x.py' of s3://{BUCKET} (an empty component ('//'))",
        f"would delete the key 'src/a\\\\b.py' of s3://{BUCKET} (a backslash)",
        f"would delete the key 'src/dir/' of s3://{BUCKET} (a folder marker)",
    ]
    assert make_ctx.messages("warning") == [
        f"5 key(s) under {DEST} that no file can have: {NAMED}; delete: true deletes them "
        "by their exact key, never mapped to a local path"
    ]


def test_sync_without_delete_names_odd_keys_and_leaves_them(make_ctx, s3, source):
    result = STEP.run(make_ctx(), inputs(source))

    assert (result.outputs.uploaded, result.outputs.deleted) == (2, 0)
    assert make_ctx.messages("warning") == [
        f"5 key(s) under {DEST} that no file can have: {NAMED}; left alone (delete: true "
        "would delete them by their exact key), never mapped to a local path"
    ]
    assert set(ODD) | set(OUTSIDE) <= set(remote_keys(s3))


def test_filters_keep_the_odd_keys_they_exclude(make_ctx, s3, source):
    result = STEP.run(
        make_ctx(), inputs(source, delete=True, max_delete="100%", exclude=["dir/", "*.txt"])
    )

    assert result.outputs.deleted == 3
    assert make_ctx.messages("warning")[0].endswith(
        "; delete: true deletes 3 by their exact key, the filters exclude the rest, "
        "never mapped to a local path"
    )
    assert {"src/dir/", "src/../evil.txt"} <= set(remote_keys(s3))
