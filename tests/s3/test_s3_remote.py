"""The "same content?" rules, each against real moto objects."""

from __future__ import annotations

import os

import pytest
from boto3.s3.transfer import TransferConfig

from opskit.manifest import ManifestEntry, file_sha256
from opskit.s3.hash_cache import HashCache
from opskit.s3.local_tree import PathFilter, scan_tree
from opskit.s3.location import S3Location
from opskit.s3.remote import Judge, Verdict, list_prefix

MiB = 1 << 20
LOCATION = S3Location("bkt", "p/")


@pytest.fixture
def setup(aws, tmp_path):
    client = aws.client("s3")
    client.create_bucket(Bucket="bkt")
    root = tmp_path / "src"
    root.mkdir()
    return client, root


def judge_of(aws, client, root, manifest=None, part_size=8 * MiB):
    local = scan_tree(root, PathFilter()).files[0]
    listing = list_prefix(client, LOCATION, aws.call)
    judge = Judge(client, LOCATION, HashCache(root), manifest or {}, part_size, aws.call)
    return judge, local, listing.objects[local.relative]


def test_manifest_vouches_only_for_the_etag_it_recorded(aws, setup):
    client, root = setup
    (root / "a").write_bytes(b"hello")
    etag = client.put_object(Bucket="bkt", Key="p/a", Body=b"hello")["ETag"]
    manifest = {"a": ManifestEntry("a", 5, file_sha256(root / "a"), etag)}
    judge, local, remote = judge_of(aws, client, root, manifest)
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(True, "manifest")
    assert judge.heads == 0
    assert judge.same(local, "0" * 64, remote).equal is False


def test_stored_sha256_is_fetched_by_head(aws, setup):
    client, root = setup
    (root / "a").write_bytes(b"hello")
    client.put_object(Bucket="bkt", Key="p/a", Body=b"hellO", ChecksumAlgorithm="SHA256")
    judge, local, remote = judge_of(aws, client, root)
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(False, "checksum")
    assert judge.heads == 1


def test_composite_checksum_of_a_multipart_upload_is_recomputed(aws, setup):
    client, root = setup
    (root / "a").write_bytes(os.urandom(5 * MiB + 10))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    client.upload_file(
        str(root / "a"), "bkt", "p/a", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=config
    )
    judge, local, remote = judge_of(aws, client, root)
    assert remote.parts == 2
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(True, "checksum")


def test_plain_etag_is_the_md5(aws, setup):
    client, root = setup
    (root / "a").write_bytes(b"hello")
    client.put_object(Bucket="bkt", Key="p/a", Body=b"hello")
    judge, local, remote = judge_of(aws, client, root)
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(True, "md5")
    (root / "a").write_bytes(b"hellO")
    judge, local, remote = judge_of(aws, client, root)
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(False, "md5")


def test_multipart_etag_with_an_unguessable_part_size_is_unknown_never_equal(aws, setup):
    client, root = setup
    (root / "a").write_bytes(os.urandom(7 * MiB + 10))
    config = TransferConfig(multipart_threshold=6 * MiB, multipart_chunksize=6 * MiB)
    client.upload_file(str(root / "a"), "bkt", "p/a", Config=config)
    judge, local, remote = judge_of(aws, client, root)
    assert judge.same(local, file_sha256(root / "a"), remote).equal is True  # PartNumber=1
    judge._first_parts["p/a"] = None  # a store that does not answer PartNumber
    judge.part_size = 7 * MiB
    assert judge.same(local, file_sha256(root / "a"), remote) == Verdict(False, "unknown")


def test_listing_timestamps_parse_without_dateutil_to_the_same_instant(aws, setup, monkeypatch):
    import botocore.parsers
    from botocore.utils import parse_timestamp as botocore_parse

    from opskit.aws import parse_timestamp

    client, _ = setup
    client.put_object(Bucket="bkt", Key="p/a", Body=b"x")
    slow: list[object] = []
    monkeypatch.setattr(
        botocore.parsers, "DEFAULT_TIMESTAMP_PARSER", lambda v: slow.append(v) or botocore_parse(v)
    )
    listed = list_prefix(client, LOCATION, aws.call)
    assert list(listed.objects) == ["a"]
    assert slow == []  # S3's ISO 8601 timestamps never reached dateutil
    stamped = client.list_objects_v2(Bucket="bkt", Prefix="p/")["Contents"][0]["LastModified"]
    assert stamped == client.head_object(Bucket="bkt", Key="p/a")["LastModified"]
    for text in ("2026-11-24T03:35:00.000Z", "2026-11-24T03:35:00Z", "1700000000"):
        assert parse_timestamp(text) == botocore_parse(text)
