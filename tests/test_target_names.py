"""Target names are checked (issue 21, point 10): a name travels into
$GITHUB_OUTPUT, CI job names and matrix entries, so only letters, digits, '.',
'_' and '-' pass; anything else is one line naming the file and line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.cli import main
from tests.test_playbook_errors import GOOD_STEP

RULE = (
    "use letters, digits, '.', '_' and '-', starting with a letter or digit (the name "
    "goes into $GITHUB_OUTPUT and CI job names)"
)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ('"prod\\nx=1"', "'prod\\nx=1'"),
        ('"::set-output name=x::y"', "'::set-output name=x::y'"),
        ('"prod east"', "'prod east'"),
        ('"prod/east"', "'prod/east'"),
        ('"${{ github.token }}"', "'${{ github.token }}'"),
        ('"-t"', "'-t'"),
        ('".."', "'..'"),
        ('"prød"', "'prød'"),
        ('""', "''"),
        ("yes", "True"),
        ("1.5", "1.5"),
    ],
)
@pytest.mark.parametrize("command", ["run", "matrix"])
def test_a_bad_target_name_is_one_line_with_file_and_line_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    shown: str,
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(f"targets:\n  ok: {{}}\n  {name}:\n    vars: {{}}\n" + GOOD_STEP)

    with pytest.raises(SystemExit) as exit_info:
        main([command, "bad.yaml"])

    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert err.strip().splitlines() == [
        f"opskit: error: bad.yaml:3: targets: target name {shown}: {RULE}"
    ]


def test_a_bad_name_in_a_targets_file_names_that_file(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fleet.yaml").write_text("targets:\n  'a b': {}\n")
    Path("play.yaml").write_text("targets_from: fleet.yaml\n" + GOOD_STEP)

    with pytest.raises(SystemExit) as exit_info:
        main(["matrix", "play.yaml"])

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"opskit: error: fleet.yaml:2: targets: target name 'a b': {RULE}"
    )


@pytest.mark.parametrize("name", ["prod", "eu-west-1.canary", "team_a", "0", "A.b-c_9"])
def test_good_target_names_load(tmp_path: Path, name: str) -> None:
    from opskit.playbook import load_playbook

    path = tmp_path / "ok.yaml"
    path.write_text(f"targets:\n  {name}: {{}}\n" + GOOD_STEP)

    assert list(load_playbook(path).targets) == [name]
