"""The faults file both fault boards watch (``opskit.sandbox.faultfile``): a change
is read once, a file that cannot be used keeps the faults in force."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opskit.sandbox.aws_faults import AwsFaultsFile, FaultOptions, make_aws_fault
from opskit.sandbox.bedrock.faults import FaultFile, make_fault


def test_a_change_is_read_once_and_a_broken_file_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "aws-faults.json"
    watched = AwsFaultsFile(path)
    watched.reset()
    assert path.read_text() == '{\n "faults": []\n}\n'
    assert watched.changed() is None

    spot = make_aws_fault("ecs", "spot", FaultOptions(calls=2))
    AwsFaultsFile(path).set(spot)  # as `opskit sandbox fault` does, from another process

    assert watched.changed() == [spot]
    assert watched.changed() is None
    path.write_text('{"faults": [')
    with caplog.at_level(logging.WARNING, logger="opskit.sandbox"):
        assert watched.changed() is None
    assert caplog.messages == [
        f"AWS faults file ignored, previous faults kept: {path}: not valid JSON "
        "(Expecting value: line 1 column 13 (char 12))"
    ]
    assert watched.changed() is None  # told once
    AwsFaultsFile(path).clear()
    assert watched.changed() == []


def test_the_bedrock_file_is_watched_the_same_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bedrock-faults.json"
    watched = FaultFile(path)
    watched.reset()
    fault = make_fault("all", "unavailable")
    FaultFile(path).set(fault)

    assert watched.changed() == [fault]
    path.write_text('{"faults": {}}')
    with caplog.at_level(logging.WARNING, logger="opskit.sandbox"):
        assert watched.changed() is None
    assert caplog.messages == [
        f'Bedrock faults file ignored, previous faults kept: {path}: expected {{"faults": [...]}}'
    ]
