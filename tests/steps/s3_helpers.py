"""Shared helpers for the S3 step tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BUCKET = "chatbot-code"
DEST = f"s3://{BUCKET}/src/"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def remote_keys(client: Any, prefix: str = "", *, records: bool = False) -> dict[str, bytes]:
    """Every key under ``prefix`` with its body; opskit's release records
    (``.opskit/`` under a prefix) only with ``records=True``."""
    keys = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            if not records and "/.opskit/" in "/" + item["Key"]:
                continue
            keys[item["Key"]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return keys


def edit_keeping_size_and_mtime(path: Path, content: bytes) -> None:
    stat = path.stat()
    assert len(content) == stat.st_size
    with open(path, "r+b") as handle:
        handle.write(content)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


class OperationLog:
    """Counts the API operations a client makes (a botocore event hook)."""

    def __init__(self, client: Any):
        self.operations: list[str] = []
        client.meta.events.register("before-call.s3", self._record, unique_id="test-oplog")
        self.client = client

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def close(self) -> None:
        self.client.meta.events.unregister("before-call.s3", unique_id="test-oplog")
