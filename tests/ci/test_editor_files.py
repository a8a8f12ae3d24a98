"""Editors and hooks: the committed schema is what `opskit schema` prints, the
bundled playbooks name it in a yaml-language-server modeline, and the
pre-commit hook that the repository offers runs `opskit validate`."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pre_commit.clientlib import load_manifest

from opskit.schema import playbook_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "playbook.schema.json"
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema="


def test_the_committed_schema_is_the_printed_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == playbook_schema(), (
        "schema/playbook.schema.json is stale: run `opskit schema > schema/playbook.schema.json`"
    )
    assert SCHEMA_FILE.read_text() == json.dumps(playbook_schema(), indent=2) + "\n"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_bundled_playbooks_name_the_schema_in_their_first_line(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith(MODELINE)
    assert (path.parent / first.removeprefix(MODELINE)).resolve() == SCHEMA_FILE


def _hook() -> dict:
    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))  # pre-commit's own check
    return hook


def test_the_pre_commit_hook_validates_playbooks() -> None:
    hook = _hook()
    assert (hook["id"], hook["language"], hook["entry"]) == (
        "opskit-validate",
        "python",
        "opskit validate",
    )
    files = re.compile(hook["files"])
    assert all(files.search(str(p.relative_to(ROOT))) for p in PLAYBOOKS)
    assert not files.search("opskit/stack/task-definition.json.j2")


def _run_hook(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """As pre-commit runs it: the entry, its args, then the matching file names."""
    hook = _hook()
    command = [*shlex.split(hook["entry"]), *hook["args"], *map(str, files)]
    command[0] = str(Path(sys.executable).parent / command[0])
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_hook_passes_the_bundled_playbooks() -> None:
    done = _run_hook([p.relative_to(ROOT) for p in PLAYBOOKS], ROOT)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(PLAYBOOKS)


def test_the_hook_fails_a_broken_playbook_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "playbooks" / "broken.yaml"
    broken.parent.mkdir()
    text = (ROOT / "playbooks" / "redeploy.yaml").read_text()
    broken.write_text(text.replace("    uses: s3.sync", "    uses: s3.sink", 1))
    line = text.splitlines().index("    uses: s3.sync") + 1
    done = _run_hook([broken.relative_to(tmp_path)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"playbooks/broken.yaml:{line}: steps[0].uses: unknown step type")
