"""Every step type says what IAM permissions it needs, in one place that the
docs cannot drift from: `opskit steps`, `opskit iam` and docs/iam.md read it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from opskit import steps as registry
from opskit.cli import main

ROOT = Path(__file__).resolve().parents[2]
NAMES = registry.names()
NEEDS_NONE = {"confirm", "http.probe", "note", "streamlit.session"}


def _docs_sections() -> dict[str, list[str]]:
    """docs/iam.md: for each ``### `TYPE``` section, the actions its table lists."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "docs" / "iam.md").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"### `([a-z0-9_.]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif line.startswith("## "):
            current = None
        elif current is not None:
            row = re.match(r"\| `([a-z0-9-]+:[A-Za-z]+)` \|", line)
            if row:
                current.append(row.group(1))
    return sections


@pytest.mark.parametrize("name", NAMES)
def test_every_step_type_declares_its_permissions(name: str) -> None:
    step_type = registry.get(name)
    assert step_type is not None and step_type.permissions is not None
    needs = step_type.permissions.needs
    assert (len(needs) == 0) == (name in NEEDS_NONE)
    inputs = {field.name for field in dataclasses.fields(step_type.inputs)}
    assert step_type.permissions.input_names <= inputs


@pytest.mark.parametrize("name", NAMES)
def test_docs_iam_md_lists_each_types_actions_as_declared(name: str) -> None:
    step_type = registry.get(name)
    assert step_type is not None and step_type.permissions is not None
    documented = _docs_sections()
    assert name in documented, f"docs/iam.md has no section for {name}"
    assert documented[name] == [need.action for need in step_type.permissions.needs]


def test_steps_prints_the_permissions_with_the_inputs_that_switch_them_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["steps", "s3.sync", "http.probe"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    sync, probe = out.split("\n\nhttp.probe", 1)
    listed = sync.split("  permissions (opskit iam, docs/iam.md):\n", 1)[1].split("  outputs:")[0]
    assert listed.splitlines()[4:7] == [
        "    s3:DeleteObject          delete keys not in the source [delete: true]",
        "    s3:DeleteObject          delete earlier syncs' staged copies once a newer "
        "release is in place (bucket without versioning)",
        "    s3:DeleteObject          prune release records beyond keep_releases "
        "[keep_releases above 0]",
    ]
    assert [line.split()[0] for line in listed.splitlines()] == [
        need.action
        for need in registry.get("s3.sync").permissions.needs  # type: ignore[union-attr]
    ]
    assert "  permissions: none (it calls no AWS API)\n" in probe
