from __future__ import annotations

import os

import pytest

from opskit.errors import InputError
from opskit.s3.local_tree import PathFilter, scan_tree


def make(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return root


def test_gitignore_style_excludes_prune_pycache_and_pyc(tmp_path):
    root = make(
        tmp_path,
        ["a.py", "core/b.py", "core/__pycache__/b.cpython-311.pyc", "x.pyc", "node/keep.txt"],
    )
    scan = scan_tree(root, PathFilter(["__pycache__/", "*.pyc"]))
    assert [f.relative for f in scan.files] == ["a.py", "core/b.py", "node/keep.txt"]


def test_include_selects_and_exclude_wins(tmp_path):
    root = make(tmp_path, ["a.py", "b.txt", "tests/test_a.py"])
    scan = scan_tree(root, PathFilter(exclude=["tests/"], include=["*.py"]))
    assert [f.relative for f in scan.files] == ["a.py"]


def test_symlink_loops_are_not_followed_forever(tmp_path):
    root = make(tmp_path / "src", ["a/x.py"])
    os.symlink(root, root / "a" / "up")
    scan = scan_tree(root, PathFilter(), follow_symlinks=True)
    assert [f.relative for f in scan.files] == ["a/x.py"]


def test_a_file_named_like_the_manifest_is_refused(tmp_path):
    root = make(tmp_path, [".opskit-manifest.json"])
    with pytest.raises(InputError, match="exclude it or rename it"):
        scan_tree(root, PathFilter())


def test_source_that_is_a_file_is_refused(tmp_path):
    make(tmp_path, ["f"])
    with pytest.raises(InputError, match="is not a folder"):
        scan_tree(tmp_path / "f", PathFilter())
