"""Test-only step types for exercising the engine without AWS."""

from __future__ import annotations

import os
import signal
from typing import Any

from opskit.clock import poll_until
from opskit.errors import StepFailed
from opskit.steps.base import Input, StepContext, StepResult, StepType

CALLS: dict[str, int] = {}


def _echo(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    ctx.emit("info", f"echo {inputs.get('value')!r}")
    return StepResult(
        "ok",
        f"echoed {inputs.get('value')!r}",
        {"value": inputs.get("value"), "type": type(inputs.get("value")).__name__},
    )


def _flaky(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    key = inputs["key"]
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] <= inputs.get("failures", 0):
        raise StepFailed(
            f"failure {CALLS[key]} of {key}",
            detail="the flaky detail",
            outputs={"calls": CALLS[key]},
        )
    return StepResult("changed", f"{key} worked on call {CALLS[key]}", {"calls": CALLS[key]})


def _wait(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    if inputs.get("interrupt"):
        os.kill(os.getpid(), signal.SIGINT)
    poll_until(
        lambda: None,
        clock=ctx.clock,
        deadline=ctx.deadline,
        interval=1.0,
        cancel=ctx.cancel,
        describe=lambda: "still waiting for nothing",
    )
    return StepResult("ok", "never")


def _mutate(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    CALLS["mutate"] = CALLS.get("mutate", 0) + 1
    return StepResult("changed", "mutated", {"token": "t-123"})


def _plan_mutate(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    return StepResult("ok", "would mutate", {})


def _leak(ctx: StepContext, inputs: dict[str, Any]) -> StepResult:
    text = inputs["text"]
    ctx.emit("info", f"info says {text}")
    ctx.emit("log", f"log says {text}", task_id="abcdef123456", age="NEW")
    raise StepFailed(
        f"summary says {text}",
        detail=f"detail says {text}",
        outputs={"echo": text, "nested": [{"deep": text}]},
    )


TEST_STEPS = [
    StepType(
        "test.echo",
        "Echo a value.",
        (Input("value", "any", "anything"),),
        {"value": "the value", "type": "its Python type"},
        _echo,
        read_only=True,
    ),
    StepType(
        "test.flaky",
        "Fail N times.",
        (Input("key", "string", "k", required=True), Input("failures", "integer", "n", default=0)),
        {"calls": "calls so far"},
        _flaky,
    ),
    StepType(
        "test.wait",
        "Wait forever.",
        (Input("interrupt", "boolean", "send SIGINT"),),
        {},
        _wait,
        read_only=True,
    ),
    StepType("test.mutate", "Change something.", (), {"token": "t"}, _mutate, plan=_plan_mutate),
    StepType(
        "test.leak",
        "Leak a value everywhere.",
        (Input("text", "string", "t", required=True),),
        {"echo": "e"},
        _leak,
    ),
]
