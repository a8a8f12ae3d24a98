from __future__ import annotations

import hashlib

import pytest

from opskit.errors import InputError
from opskit.s3.hash_cache import HashCache
from opskit.s3.local_tree import PathFilter, scan_tree
from opskit.s3.plan import POOL_MIN_SIZE, hash_files


def make_tree(root):
    """Small files (hashed in the calling thread) and large ones (in the pool)."""
    contents = {
        "a.txt": b"a",
        "big/one.bin": b"\x01" * POOL_MIN_SIZE,
        "big/two.bin": b"\x02" * (POOL_MIN_SIZE + 3),
        "z/small.py": b"print('z')\n",
        "empty": b"",
    }
    for relative, data in contents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in contents.items()}


def test_small_and_large_files_get_their_sha256_in_scan_order(tmp_path):
    root = tmp_path / "src"
    expected = make_tree(root)
    files = scan_tree(root, PathFilter()).files
    cache = HashCache(root, tmp_path / "cache")

    found = hash_files(files, cache, workers=2)

    assert found == expected
    assert list(found) == [f.relative for f in files]
    assert cache.hashed == len(files)


def test_cached_digests_are_reused_and_only_new_files_are_hashed(tmp_path):
    root = tmp_path / "src"
    expected = make_tree(root)
    first = HashCache(root, tmp_path / "cache")
    hash_files(scan_tree(root, PathFilter()).files, first, workers=2)
    assert first.save() is None
    (root / "big" / "three.bin").write_bytes(b"\x03" * POOL_MIN_SIZE)
    expected["big/three.bin"] = hashlib.sha256(b"\x03" * POOL_MIN_SIZE).hexdigest()

    again = HashCache(root, tmp_path / "cache")
    found = hash_files(scan_tree(root, PathFilter()).files, again, workers=2)

    assert found == expected
    assert again.hashed == 1


@pytest.mark.parametrize("name", ["big/one.bin", "a.txt"])
def test_a_file_that_vanished_is_named_in_one_line(tmp_path, name):
    root = tmp_path / "src"
    make_tree(root)
    files = scan_tree(root, PathFilter()).files
    (root / name).unlink()

    with pytest.raises(InputError, match=f"cannot read .*{name}"):
        hash_files(files, HashCache(root, tmp_path / "cache"), workers=2)
