"""Uploads: one checked PutObject per small file, multipart through the transfer
manager, S3's answers as receipts, failures and Ctrl-C named."""

from __future__ import annotations

import threading

import pytest

from opskit.errors import Cancelled, StepError
from opskit.manifest import file_sha256
from opskit.s3 import digests
from opskit.s3.local_tree import PathFilter, scan_tree
from opskit.s3.location import S3Location
from opskit.s3.transfer import Progress, UploadOptions, upload_files
from tests.steps.s3_helpers import OperationLog, write_tree

MiB = 1 << 20
LOCATION = S3Location("bkt", "p/")
PART = 5 * MiB  # S3's smallest part size, to keep the multipart file small


def upload(client, root, cancel=None, options=None, location=LOCATION):
    files = scan_tree(root, PathFilter()).files
    sha256 = {f.relative: file_sha256(f.path) for f in files}
    events: list[dict] = []
    progress = Progress(lambda kind, message, **data: events.append(data), lambda: 0.0, 0, 0)
    receipts = upload_files(
        client,
        location,
        files,
        sha256,
        options or UploadOptions(part_size=PART, concurrency=4),
        progress,
        cancel or threading.Event(),
        "test",
    )
    return receipts, sha256, progress


def test_each_upload_has_s3s_answer_and_small_files_are_one_checked_put(aws, tmp_path):
    client = aws.client("s3")
    client.create_bucket(Bucket="bkt")
    files = {f"mod{i}.py": f"x = {i}\n" for i in range(20)}
    root = write_tree(tmp_path / "src", {**files, "big.bin": b"b" * (PART + 1)})
    log = OperationLog(client)
    try:
        receipts, sha256, progress = upload(client, root)
    finally:
        log.close()

    assert sorted(receipts) == sorted(f"p/{name}" for name in [*files, "big.bin"])
    for relative in files:
        receipt = receipts[f"p/{relative}"]
        head = client.head_object(Bucket="bkt", Key=f"p/{relative}", ChecksumMode="ENABLED")
        assert receipt.etag == head["ETag"]
        assert receipt.checksum_sha256 == digests.b64(sha256[relative])
    assert log.operations.count("PutObject") == 20
    assert log.operations.count("CreateMultipartUpload") == 1
    assert log.operations.count("CompleteMultipartUpload") == 1
    assert receipts["p/big.bin"].etag.endswith('-2"')
    assert (progress.files_done, progress.bytes_done) == (
        21,
        sum(map(len, files.values())) + PART + 1,
    )


def test_failed_uploads_are_one_error_naming_the_keys(aws, tmp_path):
    client = aws.client("s3")  # no bucket: every PutObject fails
    root = write_tree(tmp_path / "src", {"a.py": "a", "b.py": "b"})

    with pytest.raises(StepError) as failure:
        upload(client, root)

    message = str(failure.value)
    assert message.startswith("target 'test': 2 upload(s) to s3://bkt/p/ failed: ")
    assert "a.py: NoSuchBucket" in message and "b.py: NoSuchBucket" in message


def test_ctrl_c_during_the_uploads_stops_them(aws, tmp_path):
    client = aws.client("s3")
    client.create_bucket(Bucket="bkt")
    root = write_tree(tmp_path / "src", {f"mod{i}.py": "x" for i in range(50)})
    cancel = threading.Event()
    client.meta.events.register("before-call.s3.PutObject", lambda **_: cancel.set(), "t-cancel")

    with pytest.raises(Cancelled):
        upload(client, root, cancel, UploadOptions(part_size=PART, concurrency=1))

    listed = client.list_objects_v2(Bucket="bkt").get("KeyCount", 0)
    assert 1 <= listed < 50


def test_ctrl_c_during_a_multipart_upload_is_an_interrupt_and_aborts_it(aws, tmp_path):
    """s3transfer's ``shutdown(cancel=True)`` raises ``TypeError: 'str' object is not
    callable`` (it passes the message as the exception type): never called."""
    client = aws.client("s3")
    client.create_bucket(Bucket="bkt")
    root = write_tree(tmp_path / "src", {"big.bin": b"b" * (3 * PART)})
    cancel = threading.Event()
    client.meta.events.register("before-call.s3.UploadPart", lambda **_: cancel.set(), "t-cancel")

    with pytest.raises(Cancelled) as stopped:
        upload(client, root, cancel, UploadOptions(part_size=PART, concurrency=1))

    assert str(stopped.value) == "interrupted during upload"
    assert client.list_multipart_uploads(Bucket="bkt").get("Uploads", []) == []
    assert client.list_objects_v2(Bucket="bkt").get("KeyCount", 0) == 0


def test_a_step_deadline_during_the_uploads_stops_them(aws, tmp_path):
    from opskit.clock import Deadline, FakeClock

    client = aws.client("s3")
    client.create_bucket(Bucket="bkt")
    root = write_tree(tmp_path / "src", {f"mod{i}.py": "x" for i in range(50)})
    files = scan_tree(root, PathFilter()).files
    clock = FakeClock()
    deadline = Deadline.after(clock, 60)
    client.meta.events.register(
        "before-call.s3.PutObject", lambda **_: setattr(clock, "now", clock.now + 61), "t-late"
    )
    progress = Progress(lambda *a, **k: None, clock.monotonic, len(files), 0)

    with pytest.raises(Cancelled, match="^interrupted during upload$"):
        upload_files(
            client, LOCATION, files, {f.relative: file_sha256(f.path) for f in files},
            UploadOptions(part_size=PART, concurrency=1), progress, threading.Event(), "test",
            deadline,
        )  # fmt: skip

    assert client.list_objects_v2(Bucket="bkt").get("KeyCount", 0) == 1
