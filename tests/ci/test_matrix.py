"""``opskit matrix``: the JSON that GitHub's strategy.matrix and GitLab's
parallel:matrix read, one entry per target; bad selections are exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]

FLEET = """\
name: fleet
targets:
  staging: {}
  prod-tokyo: {}
  prod-seoul: {}
  prod-osaka: {}
steps:
  - {id: probe, uses: http.probe, with: {url: "http://127.0.0.1:1/"}}
"""


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(FLEET)
    return tmp_path / "fleet.yaml"


def test_every_target_is_one_include_entry_in_playbook_order(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["matrix", "fleet.yaml"], capsys)
    assert (code, err) == (0, "")
    assert out.count("\n") == 1  # one line: it goes into $GITHUB_OUTPUT as matrix=...
    matrix = json.loads(out)
    # strategy.matrix reads {include: [{KEY: VALUE}, ...]}: one job per entry, matrix.target set
    assert list(matrix) == ["include"]
    assert [entry["target"] for entry in matrix["include"]] == [
        "staging",
        "prod-tokyo",
        "prod-seoul",
        "prod-osaka",
    ]
    assert all(list(entry) == ["target"] for entry in matrix["include"])


def test_globs_and_names_select_targets_as_run_does(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["matrix", "fleet.yaml", "-t", "prod-*", "-t", "staging"], capsys)
    assert code == 0
    assert out == (
        '{"include":[{"target":"prod-tokyo"},{"target":"prod-seoul"},'
        '{"target":"prod-osaka"},{"target":"staging"}]}\n'
    )
    code, out, _ = run_cli(["matrix", "fleet.yaml", "-t", "prod-[ot]*"], capsys)
    assert json.loads(out) == {"include": [{"target": "prod-tokyo"}, {"target": "prod-osaka"}]}


def test_gitlab_gets_parallel_matrix_values(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["matrix", "fleet.yaml", "--format", "gitlab", "-t", "prod-*"], capsys)
    assert code == 0
    assert json.loads(out) == [{"OPSKIT_TARGET": ["prod-tokyo", "prod-seoul", "prod-osaka"]}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-t", "prod-kyoto"],
            "fleet.yaml: unknown target 'prod-kyoto'; this playbook has: "
            "staging, prod-tokyo, prod-seoul, prod-osaka",
        ),
        (
            ["-t", "dev-*"],
            "fleet.yaml: no target matches 'dev-*'; this playbook has: "
            "staging, prod-tokyo, prod-seoul, prod-osaka",
        ),
    ],
)
def test_a_selection_that_matches_nothing_is_bad_input(
    fleet: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_cli(["matrix", "fleet.yaml", *args], capsys)
    assert (code, out) == (2, "")
    assert err == f"opskit: error: {message}\n"


def test_a_playbook_without_targets_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.yaml").write_text("steps:\n  - {id: a, uses: http.probe, with: {url: x}}\n")
    code, _, err = run_cli(["matrix", "one.yaml"], capsys)
    assert code == 2
    assert err == "opskit: error: one.yaml: the playbook defines no targets\n"


def test_a_broken_playbook_is_bad_input_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(FLEET.replace("prod-seoul: {}", "prod-seoul: {vars: 3}"))
    code, _, err = run_cli(["matrix", "bad.yaml"], capsys)
    assert code == 2
    assert (
        err
        == "opskit: error: bad.yaml:5: targets.prod-seoul.vars: expected a mapping, got integer 3\n"
    )


def test_the_docs_show_what_opskit_matrix_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    doc = (ROOT / "docs" / "ci.md").read_text()
    for args in (
        ["matrix", "playbooks/fleet.yaml"],
        ["matrix", "playbooks/fleet.yaml", "--format", "gitlab"],
    ):
        shown = re.search(rf"\$ opskit {re.escape(' '.join(args))}\n(.*)\n", doc)
        assert shown, args
        code, out, _ = run_cli(args, capsys)
        assert (code, out) == (0, shown[1] + "\n")
