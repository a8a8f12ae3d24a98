"""Release records: the manifest of a verified sync, kept with who, where and how it went.

A record is the manifest document (``opskit-manifest/1``, each file with its
``version_id`` when the bucket has versioning) plus a ``release`` section::

    "release": {"format": "opskit-release/1", "name": "20261124T031000.123Z-3f9a...",
                "synced_at": "2026-11-24T03:10:00Z", "by": "ana@laptop",
                "ci_url": "https://github.com/o/r/actions/runs/42", "target": "production",
                "versioned": true,
                "verdict": {"status": "passed", "deployment_id": "ecs-svc/...", ...}}

It lives at ``<prefix>.opskit/releases/<name>.json``; names sort by time, so a
listing is the history. A record is written with ``If-None-Match: *``: two syncs
in the same millisecond get two records, never one overwriting the other.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from opskit.manifest import RESERVED_DIR, Manifest
from opskit.s3.location import S3Location
from opskit.s3.remote import object_version, read_body

RELEASES_DIR = RESERVED_DIR + "releases/"
# Names the newest record whose run passed: pruning never deletes it, so the
# last good release survives any number of failed syncs after it.
LAST_GOOD_NAME = RESERVED_DIR + "last-good.json"
RECORD_FORMAT = "opskit-release/1"
_FAMILY = "opskit-release/"
_WRITE_ATTEMPTS = 20


@dataclass(frozen=True)
class Origin:
    """Who synced: a person (``user@host``) or a CI run (its URL)."""

    by: str
    ci_url: str | None = None

    @property
    def who(self) -> str:
        return self.ci_url or self.by


def origin_from_env(env: Mapping[str, str] | None = None) -> Origin:
    """The person or CI run behind this process (GitHub Actions, GitLab CI)."""
    env = os.environ if env is None else env
    ci_url = None
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    server, repo, run = (env.get(n) for n in names)
    if server and repo and run:
        ci_url = f"{server.rstrip('/')}/{repo}/actions/runs/{run}"
    elif env.get("CI_PIPELINE_URL"):
        ci_url = env["CI_PIPELINE_URL"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = env.get("USER") or "unknown"
    return Origin(f"{user}@{socket.gethostname()}", ci_url)


@dataclass(frozen=True)
class Verdict:
    """How the run that synced a release ended."""

    status: str  # passed | failed | interrupted | error | partial (--from/--only)
    recorded_at: str
    run_id: str = ""
    playbook: str = ""
    deployment_id: str | None = None
    failed_step: str | None = None


@dataclass
class ReleaseRecord:
    key: str
    name: str
    manifest: Manifest | None  # None when the record cannot be read (see ``problem``)
    synced_at: str = ""
    by: str = ""
    ci_url: str | None = None
    target: str = ""
    versioned: bool = False
    verdict: Verdict | None = None
    problem: str | None = None
    document: dict[str, Any] | None = None

    @property
    def digest(self) -> str:
        if self.manifest is not None:
            return self.manifest.digest
        return _digest_from_name(self.name)

    @property
    def who(self) -> str:
        return self.ci_url or self.by

    @property
    def files(self) -> int:
        return len(self.manifest.files) if self.manifest else 0

    @property
    def size(self) -> int:
        return sum(f.size for f in self.manifest.files) if self.manifest else 0

    @property
    def status(self) -> str:
        """The verdict's status; ``unknown`` while (or if) no verdict was recorded."""
        return self.verdict.status if self.verdict else "unknown"

    def summary(self) -> dict[str, Any]:
        """The record as data (``opskit releases --output json``, step outputs)."""
        return {
            "name": self.name,
            "key": self.key,
            "digest": self.digest,
            "synced_at": self.synced_at,
            "files": self.files,
            "bytes": self.size,
            "who": self.who,
            "target": self.target,
            "versioned": self.versioned,
            "verdict": self.status,
            "deployment_id": self.verdict.deployment_id if self.verdict else None,
            "playbook": self.verdict.playbook if self.verdict else "",
            "problem": self.problem,
        }


def _digest_from_name(name: str) -> str:
    _, _, tail = name.rpartition("-")
    return tail


def record_name(epoch: float, digest: str) -> str:
    millis = int(round(epoch * 1000))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(millis // 1000))
    return f"{stamp}.{millis % 1000:03d}Z-{digest[:12]}"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def records_location(location: S3Location) -> S3Location:
    return S3Location(location.bucket, location.prefix + RELEASES_DIR)


@dataclass(frozen=True)
class WrittenRecord:
    key: str
    version_id: str | None  # the record's object version: S3 returns one only with versioning on


def write_record(
    client: Any,
    location: S3Location,
    manifest: Manifest,
    *,
    origin: Origin,
    target: str,
    now: float,
    call: Callable[[str], Any],
    replace: str | None = None,
) -> WrittenRecord:
    """Write a new record of ``manifest``; never overwrites one. With ``replace``
    (the key this sync just wrote), rewrite that record with ``manifest``: its
    name and time stay, the object versions are now known.

    ``versioned`` in the record says that every file's version id is recorded,
    which is what restoring it by copy needs."""
    from botocore.exceptions import ClientError

    from opskit.aws import error_code

    document = json.loads(manifest.to_json())
    section = {
        "format": RECORD_FORMAT,
        "name": "",
        "synced_at": _iso(now),
        "by": origin.by,
        "ci_url": origin.ci_url,
        "target": target,
        "versioned": bool(manifest.files) and all(e.version_id for e in manifest.files),
        "verdict": None,
    }
    where = records_location(location)
    for attempt in range(1 if replace else _WRITE_ATTEMPTS):
        name = record_name(now + attempt / 1000, manifest.digest)
        key = replace or f"{where.prefix}{name}.json"
        section["name"] = key.rsplit("/", 1)[-1].removesuffix(".json")
        body = json.dumps({**document, "release": section}, indent=1) + "\n"
        condition = {} if replace else {"IfNoneMatch": "*"}
        try:
            with call(f"s3 PutObject s3://{location.bucket}/{key}"):
                try:
                    answer = client.put_object(
                        Bucket=location.bucket,
                        Key=key,
                        Body=body.encode("utf-8"),
                        ContentType="application/json",
                        ChecksumAlgorithm="SHA256",
                        **condition,
                    )
                except ClientError as err:
                    if error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
                        raise _Taken() from None
                    raise
        except _Taken:
            continue  # another sync wrote a record with this name: take the next millisecond
        return WrittenRecord(key, object_version(answer))
    raise RuntimeError(f"no free release record name under s3://{location.bucket}/{where.prefix}")


class _Taken(Exception):
    pass


def record_keys(location: S3Location, keys: Iterable[str]) -> list[str]:
    """Of ``keys`` (e.g. a listing's ``reserved`` keys), the records', oldest first."""
    where = records_location(location).prefix
    return sorted({k for k in keys if k.startswith(where) and k.endswith(".json")})


def list_record_keys(client: Any, location: S3Location, call: Callable[[str], Any]) -> list[str]:
    """Keys of the records under the prefix, oldest first (a listing of their own)."""
    where = records_location(location)
    keys: list[str] = []
    with call(f"s3 ListObjectsV2 {where.url}"):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=where.prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    return record_keys(location, keys)


def read_records(
    client: Any, location: S3Location, call: Callable[[str], Any], *, workers: int = 8
) -> list[ReleaseRecord]:
    """Every record under the prefix, newest first (one listing, one GET each)."""
    keys = list_record_keys(client, location, call)

    def read(key: str) -> ReleaseRecord:
        with call(f"s3 GetObject s3://{location.bucket}/{key}"):
            body = read_body(client, location.bucket, key)
        return parse_record(key, body)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys) or 1))) as pool:
        records = list(pool.map(read, keys))
    return list(reversed(records))


def parse_record(key: str, body: bytes | str) -> ReleaseRecord:
    """A record; one that cannot be read (or is from a newer opskit) says why in
    ``problem`` and is never chosen for a restore."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return ReleaseRecord(key, name, None, problem=f"not valid JSON: {err}")
    section = document.get("release") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        return ReleaseRecord(key, name, None, problem="no release section")
    kind = str(section.get("format", ""))
    if kind != RECORD_FORMAT:
        if kind.startswith(_FAMILY):
            problem = (
                f"written in {kind}, a newer format than this opskit reads ({RECORD_FORMAT}); "
                "upgrade opskit to read it"
            )
        else:
            problem = f"unknown record format {kind or '(none)'!r}"
        return ReleaseRecord(key, name, None, problem=problem, document=document)
    try:
        manifest = Manifest.from_json(json.dumps(document))
    except ValueError as err:
        return ReleaseRecord(key, name, None, problem=str(err), document=document)
    verdict = None
    if isinstance(section.get("verdict"), dict):
        fields = {k: section["verdict"].get(k) for k in Verdict.__dataclass_fields__}
        if fields.get("status"):
            verdict = Verdict(**{k: v for k, v in fields.items() if v is not None})
    return ReleaseRecord(
        key=key,
        name=name,
        manifest=manifest,
        synced_at=str(section.get("synced_at", "")),
        by=str(section.get("by", "")),
        ci_url=section.get("ci_url") or None,
        target=str(section.get("target", "")),
        versioned=bool(section.get("versioned")),
        verdict=verdict,
        document=document,
    )


def set_verdict(
    client: Any, bucket: str, key: str, verdict: Verdict, call: Callable[[str], Any]
) -> None:
    """Write ``verdict`` on the record at ``key`` (read, change, write back)."""
    with call(f"s3 GetObject s3://{bucket}/{key}"):
        body = read_body(client, bucket, key)
    record = parse_record(key, body)
    if record.document is None or record.problem:
        raise ValueError(f"s3://{bucket}/{key}: {record.problem}")
    document = dict(record.document)
    document["release"] = {**document["release"], "verdict": asdict(verdict)}
    with call(f"s3 PutObject s3://{bucket}/{key}"):
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=(json.dumps(document, indent=1) + "\n").encode("utf-8"),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
    if verdict.status == "passed":
        pointer = key.split(RELEASES_DIR, 1)[0] + LAST_GOOD_NAME
        with call(f"s3 PutObject s3://{bucket}/{pointer}"):
            client.put_object(
                Bucket=bucket,
                Key=pointer,
                Body=(json.dumps({"record": key}) + "\n").encode("utf-8"),
                ContentType="application/json",
            )


def last_good_record(client: Any, location: S3Location, call: Callable[[str], Any]) -> str | None:
    """The key of the newest record whose run passed, as its verdict named it."""
    from botocore.exceptions import ClientError

    key = location.prefix + LAST_GOOD_NAME
    with call(f"s3 GetObject s3://{location.bucket}/{key}"):
        try:
            body = read_body(client, location.bucket, key)
        except ClientError as err:  # no run has passed yet: nothing to protect
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
    try:
        record = json.loads(body).get("record")
    except (ValueError, AttributeError):
        return None
    return record if isinstance(record, str) else None


def prune_records(
    client: Any, location: S3Location, keys: Iterable[str], keep: int, call: Callable[[str], Any]
) -> list[str]:
    """Delete the oldest records beyond the newest ``keep`` of ``keys`` (the records
    the sync's own listing showed plus the one it wrote: no listing of their own).
    A record another sync writes meanwhile is counted by the next sync's pruning.
    Returns the deleted keys."""
    known = record_keys(location, keys)
    old = known[: max(0, len(known) - keep)]
    if old:  # one GET, only when something is to go: the last good release stays
        protected = last_good_record(client, location, call)
        old = [k for k in old if k != protected]
    for start in range(0, len(old), 1000):
        batch = old[start : start + 1000]
        with call(f"s3 DeleteObjects {records_location(location).url} ({len(batch)} keys)"):
            client.delete_objects(
                Bucket=location.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
    return old
