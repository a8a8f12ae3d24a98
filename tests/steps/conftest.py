"""Fixtures of the step tests: a settled ECS service played by the driver
(``stack``; a module that needs another shape defines its own) and the calls
sent to ECS (``calls``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ecs_driver import CallRecorder, EcsDriver, build_stack


@pytest.fixture
def stack(aws: Any) -> Iterator[EcsDriver]:
    driver = build_stack(aws)
    yield driver
    EcsDriver.uninstall()


@pytest.fixture
def calls(aws: Any) -> CallRecorder:
    return CallRecorder(aws.client("ecs"))
