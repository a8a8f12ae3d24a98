"""The release record's format: the manifest of a verified sync, with who, where and how it went.

A record is the manifest document (``opskit-manifest/1``, each file with its
``version_id`` when the bucket has versioning) plus a ``release`` section::

    "release": {"format": "opskit-release/1", "name": "20261124T031000.123Z-3f9a...",
                "synced_at": "2026-11-24T03:10:00Z", "by": "ana@laptop",
                "ci_url": "https://github.com/o/r/actions/runs/42", "target": "production",
                "versioned": true,
                "verdict": {"status": "passed", "deployment_id": "ecs-svc/...", ...}}

Names sort by time, so a listing is the history. This module reads and writes
the document; ``opskit.releases.store`` keeps it in the bucket.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from opskit.clock import utc_epoch, utc_iso
from opskit.manifest import Manifest, document_json

RECORD_FORMAT = "opskit-release/1"
_FAMILY = "opskit-release/"
_NAME = re.compile(r"^(\d{8}T\d{6})\.(\d{3})Z-([0-9a-f]{12})$")
# How far ahead of the reader's clock a record may be dated. The writer dates it
# with its own clock, and S3 refuses a signed request from a clock more than 15
# minutes off its own (RequestTimeTooSkewed, "Signing AWS API requests"), so an
# honest record is never further ahead than that. Names sort by time: a record
# dated later would pass for the newest release, whatever came after it.
CLOCK_SKEW = 15 * 60


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
    named = _NAME.match(name)
    if named is None:
        problem = "its name is not a record's (<UTC time>Z-<12 digest characters>)"
        return ReleaseRecord(key, name, None, problem=problem, document=document)
    if named.group(3) != manifest.digest[:12]:
        problem = f"its name says digest {named.group(3)}, its files make {manifest.digest[:12]}"
        return ReleaseRecord(key, name, None, problem=problem, document=document)
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


def refuse_future(record: ReleaseRecord, now: float) -> ReleaseRecord:
    """``record``, refused (``problem``, no manifest) when its name or its
    ``synced_at`` dates it beyond ``now`` plus the clock skew S3 allows: such a
    record was planted, not written by a sync, and must never pass for the newest
    or the last good release."""
    named = _NAME.match(record.name)
    if record.problem is not None or named is None:
        return record
    times = [utc_epoch(named.group(1), "%Y%m%dT%H%M%S")]
    if record.synced_at:
        times.append(utc_epoch(record.synced_at, "%Y-%m-%dT%H:%M:%SZ"))
    if None in times:
        problem = f"its synced_at {record.synced_at!r} is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
        return replace(record, manifest=None, problem=problem)
    at = max(t for t in times if t is not None)
    if at > now + CLOCK_SKEW:
        problem = (
            f"dated in the future ({utc_iso(at)}, now {utc_iso(now)}): a sync dates its record "
            "with its own clock, which S3 keeps within 15 minutes of its own"
        )
        return replace(record, manifest=None, problem=problem)
    return record


def record_document(
    manifest: Manifest, name: str, *, origin: Origin, target: str, now: float
) -> str:
    """A new record of ``manifest``, as the JSON text stored. ``versioned`` says
    that every file's version id is recorded, which restoring it by copy needs."""
    section = {
        "format": RECORD_FORMAT,
        "name": name,
        "synced_at": utc_iso(now),
        "by": origin.by,
        "ci_url": origin.ci_url,
        "target": target,
        "versioned": bool(manifest.files) and all(e.version_id for e in manifest.files),
        "verdict": None,
    }
    return document_json({**manifest.document(), "release": section})


def with_verdict(record: ReleaseRecord, verdict: Verdict) -> str:
    """``record``'s document with ``verdict`` written on it, as the JSON text stored."""
    if record.document is None or record.problem:
        raise ValueError(f"{record.key}: {record.problem}")
    document = dict(record.document)
    document["release"] = {**document["release"], "verdict": asdict(verdict)}
    return document_json(document)
