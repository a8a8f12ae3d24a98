"""What the ecs.redeploy tests share besides their fixtures (``conftest.py``:
``stack``, ``calls``): the step run on a scripted clock."""

from __future__ import annotations

from typing import Any

from opskit.steps.base import StepResult
from opskit.steps.ecs_redeploy import STEP
from tests.ecs_driver import CLUSTER, SERVICE


def run(
    make_ctx: Any, clock: Any, *, timeout: float | None = 600.0, cancel: Any = None, **inputs: Any
) -> StepResult:
    """ecs.redeploy on the driver's service; ``clock`` plays one move per poll."""
    ctx = make_ctx(clock=clock, timeout=timeout, cancel=cancel)
    return STEP.run(ctx, STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, **inputs}))
