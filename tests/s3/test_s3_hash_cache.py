from __future__ import annotations

import os

import opskit.s3.digests
from opskit.s3.hash_cache import HashCache, cache_dir
from opskit.s3.local_tree import PathFilter, scan_tree


def files_of(root):
    return scan_tree(root, PathFilter()).files


def test_cache_lives_under_xdg_cache_home_and_survives_a_new_run(tmp_path, monkeypatch):
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("a")
    cache = HashCache(root)
    digest = cache.sha256(files_of(root)[0])
    assert cache.save() is None
    assert cache.file.parent == cache_dir()
    assert str(cache_dir()).startswith(os.environ["XDG_CACHE_HOME"])
    assert not any(p.name.endswith(".json") for p in root.iterdir())

    calls = []
    monkeypatch.setattr(opskit.s3.digests, "file_sha256", lambda p: calls.append(p))
    again = HashCache(root)
    assert again.sha256(files_of(root)[0]) == digest
    assert calls == [] and again.hashed == 0


def test_same_size_edit_with_restored_mtime_is_rehashed(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    path = root / "a.py"
    path.write_text("aaaa")
    cache = HashCache(root)
    first = cache.sha256(files_of(root)[0])
    cache.save()
    stat = path.stat()
    path.write_text("bbbb")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    again = HashCache(root)
    assert again.sha256(files_of(root)[0]) != first
    assert again.hashed == 1


def test_unwritable_cache_is_reported_not_raised(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (tmp_path / "blocker").write_text("a file where the folder should be")
    cache = HashCache(root, directory=tmp_path / "blocker" / "hashes")
    assert "cannot write the hash cache" in cache.save()


def test_unchanged_cache_is_not_rewritten_but_new_digests_and_removed_files_are(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("a")
    (root / "b.py").write_text("b")
    first = HashCache(root)
    for local in files_of(root):
        first.sha256(local)
    assert first.save() is None
    written = first.file.stat().st_ino

    same = HashCache(root)
    for local in files_of(root):
        same.sha256(local)
    assert same.save() is None
    assert same.file.stat().st_ino == written  # a no-op re-run leaves the file alone

    with_md5 = HashCache(root)
    for local in files_of(root):
        with_md5.sha256(local)
    with_md5.md5(files_of(root)[0])
    assert with_md5.save() is None
    assert with_md5.file.stat().st_ino != written
    assert HashCache(root).md5(files_of(root)[0]) == opskit.s3.digests.file_md5(root / "a.py")

    (root / "b.py").unlink()
    fewer = HashCache(root)
    fewer.sha256(files_of(root)[0])
    assert fewer.save() is None
    assert list(HashCache(root)._entries) == [str((root / "a.py").absolute())]
