"""Uploads, deletes in batches, live progress.

Every upload asks S3 to check a SHA-256 of the body, so S3 rejects a body
corrupted on the way. A single-part upload is one ``PutObject`` that sends the
SHA-256 the plan was made with (``ChecksumSHA256``): botocore then does not read
and hash the body a second time, and S3 refuses a body that is not the planned
content. S3's answer to it is the upload's ``Receipt`` (ETag, checksum, version).
A multipart upload goes through boto3's transfer manager with per-part SHA-256s
(``ChecksumAlgorithm``): S3 accepts a full-object SHA-256 only as a composite of
parts, which is checked after the upload (``opskit.s3.check``). The transfer
manager does not hand back S3's answer, so a botocore event hook records it.

Single-part uploads do not go through the transfer manager: for a small file its
machinery (a future, a coordinator, submission and I/O tasks, progress callbacks
per read, all kept until the end) cost more client CPU than the request itself,
and that CPU is taken from the server when both share a machine.
"""

from __future__ import annotations

import mimetypes
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opskit.clock import Deadline
from opskit.errors import Cancelled, StepError
from opskit.s3 import digests
from opskit.s3.local_tree import LocalFile
from opskit.s3.location import S3Location
from opskit.s3.remote import object_version

MiB = 1 << 20
PART_SIZE = 8 * MiB  # multipart threshold and part size (the AWS CLI's default too)
_PROGRESS_EVERY = 0.2  # seconds between progress events


@dataclass(frozen=True)
class UploadOptions:
    content_type: str = "guess"  # "guess", "none", or a MIME type for every file
    cache_control: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    concurrency: int = 16
    part_size: int = PART_SIZE

    def extra_args(self, local: LocalFile, sha256: str) -> dict[str, str]:
        """ExtraArgs for one upload; ``sha256`` is the hex digest the plan was made with."""
        args: dict[str, str]
        if local.size < self.part_size:  # s3transfer: multipart when size >= threshold
            # the algorithm too: S3 (and moto) store and return the checksum only with it
            args = {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": digests.b64(sha256)}
        else:
            args = {"ChecksumAlgorithm": "SHA256"}
        if self.content_type == "guess":
            guessed, encoding = mimetypes.guess_type(local.relative, strict=False)
            args["ContentType"] = guessed or "application/octet-stream"
            if encoding:
                args["ContentEncoding"] = encoding
        elif self.content_type != "none":
            args["ContentType"] = self.content_type
        if self.cache_control:
            args["CacheControl"] = self.cache_control
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args


@dataclass(frozen=True)
class Receipt:
    """What S3 answered for one upload."""

    key: str
    etag: str
    checksum_sha256: str | None
    version_id: str | None = None  # only when the bucket has versioning enabled


class ReceiptRecorder:
    """Records S3's answers to CompleteMultipartUpload (and PutObject, should the
    transfer manager send one) on a client, while used as a context manager."""

    _OPERATIONS = ("PutObject", "CompleteMultipartUpload")

    def __init__(self, client: Any):
        self.client = client
        self.receipts: dict[str, Receipt] = {}
        self._lock = threading.Lock()
        self._id = uuid.uuid4().hex

    def _remember_key(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["opskit_key"] = params.get("Key")

    def _record(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ):
        key = context.get("opskit_key")
        if key and http_response is not None and http_response.status_code < 300:
            receipt = Receipt(
                key, parsed.get("ETag", ""), parsed.get("ChecksumSHA256"), object_version(parsed)
            )
            with self._lock:
                self.receipts[key] = receipt

    def __enter__(self) -> ReceiptRecorder:
        events = self.client.meta.events
        for operation in self._OPERATIONS:
            events.register(
                f"before-parameter-build.s3.{operation}",
                self._remember_key,
                unique_id=f"opskit-key-{operation}-{self._id}",
            )
            events.register(
                f"after-call.s3.{operation}",
                self._record,
                unique_id=f"opskit-receipt-{operation}-{self._id}",
            )
        return self

    def __exit__(self, *exc: object) -> None:
        events = self.client.meta.events
        for operation in self._OPERATIONS:
            events.unregister(
                f"before-parameter-build.s3.{operation}",
                unique_id=f"opskit-key-{operation}-{self._id}",
            )
            events.unregister(
                f"after-call.s3.{operation}", unique_id=f"opskit-receipt-{operation}-{self._id}"
            )


class Progress:
    """Files and bytes done, emitted as ``progress`` events at most every 0.2 s."""

    def __init__(
        self, emit: Callable[..., None], monotonic: Callable[[], float], files: int, total: int
    ):
        self.emit = emit
        self.monotonic = monotonic
        self.files_total = files
        self.bytes_total = total
        self.files_done = 0
        self.bytes_done = 0
        self.started = monotonic()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes_done += count

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1

    def report(self, force: bool = False) -> None:
        now = self.monotonic()
        if not force and now - self._last < _PROGRESS_EVERY:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.bytes_done / elapsed
        self.emit(
            "progress",
            f"uploaded {self.files_done}/{self.files_total} files, "
            f"{format_bytes(self.bytes_done)}/{format_bytes(self.bytes_total)}, "
            f"{format_bytes(rate)}/s",
            files_done=self.files_done,
            files_total=self.files_total,
            bytes_done=self.bytes_done,
            bytes_total=self.bytes_total,
            rate=round(rate, 1),
        )


def upload_files(
    client: Any,
    location: S3Location,
    files: Sequence[LocalFile],
    sha256: dict[str, str],
    options: UploadOptions,
    progress: Progress,
    cancel: threading.Event,
    target: str,
    deadline: Deadline | None = None,
) -> dict[str, Receipt]:
    """Upload ``files`` under the prefix; returns S3's receipt per key.

    Stops starting uploads once ``cancel`` is set or ``deadline`` has passed (a
    step's ``timeout:``), and raises ``Cancelled`` then.

    ``sha256`` maps each relative path to the hex SHA-256 the plan was made with.
    Files under ``options.part_size`` are one ``PutObject`` each, ``options.concurrency``
    at a time; larger ones are multipart uploads through the transfer manager.

    Raises ``StepError`` naming every key that failed after botocore's retries.
    """
    single = [local for local in files if local.size < options.part_size]
    multipart = [local for local in files if local.size >= options.part_size]
    failures: list[str] = []
    receipts: dict[str, Receipt] = {}
    stop = _Stop(cancel, deadline)
    if single:
        receipts.update(
            _put_objects(client, location, single, sha256, options, progress, stop, failures)
        )
    if multipart:
        receipts.update(
            _upload_multipart(
                client, location, multipart, sha256, options, progress, stop, failures
            )
        )
    progress.report(force=True)
    if failures:
        raise StepError(
            f"target {target!r}: {len(failures)} upload(s) to {location.url} failed: "
            + "; ".join(failures[:5])
            + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        )
    return receipts


@dataclass(frozen=True)
class _Stop:
    """Whether the uploads must stop: a cancel (a signal, the watchdog) or the
    step's deadline, read on the step's clock."""

    cancel: threading.Event
    deadline: Deadline | None

    def wait(self, seconds: float) -> bool:
        return self.cancel.wait(seconds) or self.now()

    def now(self) -> bool:
        return self.cancel.is_set() or (self.deadline is not None and self.deadline.expired())


def _put_objects(
    client: Any,
    location: S3Location,
    files: Sequence[LocalFile],
    sha256: dict[str, str],
    options: UploadOptions,
    progress: Progress,
    cancel: _Stop,
    failures: list[str],
) -> dict[str, Receipt]:
    """One ``PutObject`` per file from a pool of threads; S3's answers as receipts.
    The body is the open file, so botocore can rewind it for a retry."""
    receipts: dict[str, Receipt] = {}
    lock = threading.Lock()
    remaining = len(files)
    all_done = threading.Event()
    skipped = threading.Event()  # a file was not sent because of Ctrl-C

    def put(local: LocalFile) -> None:
        nonlocal remaining
        try:
            if cancel.now():
                skipped.set()
                return
            key = location.key_for(local.relative)
            extra = options.extra_args(local, sha256[local.relative])
            with open(local.path, "rb") as body:
                answer = client.put_object(Bucket=location.bucket, Key=key, Body=body, **extra)
            receipt = Receipt(
                key, answer.get("ETag", ""), answer.get("ChecksumSHA256"), object_version(answer)
            )
            progress.add_bytes(local.size)
            progress.file_done()
            with lock:
                receipts[key] = receipt
        except Exception as err:  # noqa: BLE001 - reported per key by the caller
            with lock:
                failures.append(f"{local.relative}: {describe_transfer_error(err)}")
        finally:
            with lock:
                remaining -= 1
                if not remaining:
                    all_done.set()

    with ThreadPoolExecutor(max_workers=max(1, min(options.concurrency, len(files)))) as pool:
        for local in files:
            pool.submit(put, local)
        while not all_done.wait(0.05) and not cancel.now():
            progress.report()
        if skipped.is_set() or not all_done.is_set():
            pool.shutdown(wait=False, cancel_futures=True)
            raise Cancelled("interrupted during upload")
    return receipts


def _upload_multipart(
    client: Any,
    location: S3Location,
    files: Sequence[LocalFile],
    sha256: dict[str, str],
    options: UploadOptions,
    progress: Progress,
    cancel: _Stop,
    failures: list[str],
) -> dict[str, Receipt]:
    """Multipart uploads through boto3's transfer manager; S3's answers to
    ``CompleteMultipartUpload`` as receipts.

    A stop cancels every transfer by leaving the manager's ``with`` block with
    ``Cancelled``: its ``__exit__`` cancels the transfers in flight (aborting
    their multipart uploads) and waits for them. Never ``manager.shutdown(
    cancel=True)``: s3transfer (0.17 and earlier) passes its message string as
    the exception type there (``self._shutdown(cancel, cancel, cancel_msg)``),
    so a cancelled upload ended as ``TypeError: 'str' object is not callable``."""
    from boto3.s3.transfer import TransferConfig
    from s3transfer.manager import TransferManager
    from s3transfer.subscribers import BaseSubscriber

    class _Subscriber(BaseSubscriber):
        def on_progress(self, future: Any, bytes_transferred: int, **_: Any) -> None:
            progress.add_bytes(bytes_transferred)

        def on_done(self, future: Any, **_: Any) -> None:
            progress.file_done()

    config = TransferConfig(
        multipart_threshold=options.part_size,
        multipart_chunksize=options.part_size,
        max_concurrency=options.concurrency,
        use_threads=True,
    )
    with ReceiptRecorder(client) as recorder, TransferManager(client, config) as manager:
        futures = [
            (
                local,
                manager.upload(
                    str(local.path),
                    location.bucket,
                    location.key_for(local.relative),
                    extra_args=options.extra_args(local, sha256[local.relative]),
                    subscribers=[_Subscriber()],
                ),
            )
            for local in files
        ]
        for local, future in futures:
            while not future.done():
                if cancel.wait(0.05):
                    raise Cancelled("interrupted during upload")
                progress.report()
            try:
                future.result()
            except Exception as err:  # noqa: BLE001 - reported per key by the caller
                failures.append(f"{local.relative}: {describe_transfer_error(err)}")
    return dict(recorder.receipts)


def describe_transfer_error(err: BaseException) -> str:
    from botocore.exceptions import ClientError

    from opskit.aws import describe_client_error

    if isinstance(err, ClientError):
        return describe_client_error(err)
    if isinstance(err, OSError):
        return f"cannot read the file: {err.strerror or err}"
    return str(err) or type(err).__name__


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
