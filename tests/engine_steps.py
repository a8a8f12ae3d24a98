"""Test-only step types for exercising the engine: all but ``test.buckets`` without AWS."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

from opskit.clock import poll_until
from opskit.errors import StepFailed
from opskit.iam.needs import NO_AWS
from opskit.steps.base import StepContext, StepResult, StepType, output, param


@dataclass(frozen=True, kw_only=True)
class EchoInputs:
    value: Any = param("anything", "any")


@dataclass(frozen=True, kw_only=True)
class FlakyInputs:
    key: str = param("k", "string", required=True)
    failures: int = param("n", "integer", default=0)


@dataclass(frozen=True, kw_only=True)
class WaitInputs:
    interrupt: bool = param("send SIGINT", "boolean", default=False)
    signals: list[str] = param("signals to send this process, in order", "string_list", default=[])


@dataclass(frozen=True, kw_only=True)
class NoInputs:
    pass


@dataclass(frozen=True, kw_only=True)
class LeakInputs:
    text: str = param("t", "string", required=True)


@dataclass(frozen=True, kw_only=True)
class MarkInputs:
    marks: list[Any] = param("[label, what, seconds after the step's start]", "list", default=[])
    fail: bool = param("fail after marking", "boolean", default=False)
    took: float = param("seconds the step takes (on the run's clock)", "number", default=1.0)


@dataclass(frozen=True, kw_only=True)
class EchoOutputs:
    value: Any = output("the value", "any")
    type: str = output("its Python type", "string")


@dataclass(frozen=True, kw_only=True)
class CallsOutputs:
    calls: int = output("calls so far", "integer")


@dataclass(frozen=True, kw_only=True)
class NoOutputs:
    pass


@dataclass(frozen=True, kw_only=True)
class TokenOutputs:
    token: str | None = output("t", "string")


@dataclass(frozen=True, kw_only=True)
class LeakOutputs:
    echo: str = output("e", "string")
    nested: list[Any] = output("n", "list")


@dataclass(frozen=True, kw_only=True)
class BucketsOutputs:
    buckets: list[str] = output("the bucket names", "string_list")


CALLS: dict[str, int] = {}


def _buckets(ctx: StepContext, inputs: NoInputs) -> StepResult:
    """A step that calls AWS (``s3 ListBuckets``): what a run's identity is for."""
    CALLS["buckets"] = CALLS.get("buckets", 0) + 1
    with ctx.aws.call("s3 ListBuckets"):
        names = [b["Name"] for b in ctx.aws.client("s3").list_buckets()["Buckets"]]
    return StepResult("ok", f"{len(names)} bucket(s)", BucketsOutputs(buckets=names))


def _echo(ctx: StepContext, inputs: EchoInputs) -> StepResult:
    ctx.emit("info", f"echo {inputs.value!r}")
    return StepResult(
        "ok",
        f"echoed {inputs.value!r}",
        EchoOutputs(value=inputs.value, type=type(inputs.value).__name__),
    )


def _flaky(ctx: StepContext, inputs: FlakyInputs) -> StepResult:
    key = inputs.key
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] <= inputs.failures:
        raise StepFailed(
            f"failure {CALLS[key]} of {key}",
            detail="the flaky detail",
            outputs=CallsOutputs(calls=CALLS[key]),
        )
    return StepResult(
        "changed", f"{key} worked on call {CALLS[key]}", CallsOutputs(calls=CALLS[key])
    )


def _wait(ctx: StepContext, inputs: WaitInputs) -> StepResult:
    if inputs.interrupt:
        os.kill(os.getpid(), signal.SIGINT)
    for name in inputs.signals:
        os.kill(os.getpid(), signal.Signals[name])
    poll_until(
        lambda: None,
        clock=ctx.clock,
        deadline=ctx.deadline,
        interval=1.0,
        cancel=ctx.cancel,
        describe=lambda: "still waiting for nothing",
    )
    return StepResult("ok", "never", NoOutputs())


def _mutate(ctx: StepContext, inputs: NoInputs) -> StepResult:
    CALLS["mutate"] = CALLS.get("mutate", 0) + 1
    return StepResult("changed", "mutated", TokenOutputs(token="t-123"))


def _plan_mutate(ctx: StepContext, inputs: NoInputs) -> StepResult:
    return StepResult("ok", "would mutate", TokenOutputs(token=None))


def _rogue(ctx: StepContext, inputs: EchoInputs) -> StepResult:
    """A step type with a bug: outputs that are not its declared dataclass."""
    if inputs.value == "fail":
        raise StepFailed("failed with stray outputs", outputs={"stray": 1})
    return StepResult("ok", "returned a stray dict", {"value": inputs.value, "stray": 1})


def _leak(ctx: StepContext, inputs: LeakInputs) -> StepResult:
    text = inputs.text
    ctx.emit("info", f"info says {text}")
    ctx.emit("log", f"log says {text}", task_id="abcdef123456", age="NEW")
    raise StepFailed(
        f"summary says {text}",
        detail=f"detail says {text}",
        outputs=LeakOutputs(echo=text, nested=[{"deep": text}]),
    )


def _mark(ctx: StepContext, inputs: MarkInputs) -> StepResult:
    """Marks moments as a real step does (``at``: when it happened), then takes
    ``took`` seconds of the run's (fake) clock."""
    began = ctx.clock.time()
    for text, what, after in inputs.marks:
        ctx.emit("mark", text, at=began + float(after), what=what)
    ctx.clock.sleep(inputs.took)
    if inputs.fail:
        raise StepFailed("the check said no")
    return StepResult("ok", f"{len(inputs.marks)} mark(s)", NoOutputs())


# None but test.buckets calls AWS: the engine's tests need no credentials
# (they declare NO_AWS: StepType.uses_aws).
TEST_STEPS = [
    StepType(
        "test.buckets", "List the buckets.", NoInputs, BucketsOutputs, _buckets, read_only=True
    ),
    StepType(
        "test.echo",
        "Echo a value.",
        EchoInputs,
        EchoOutputs,
        _echo,
        read_only=True,
        permissions=NO_AWS,
    ),
    StepType(
        "test.flaky",
        "Fail N times.",
        FlakyInputs,
        CallsOutputs,
        _flaky,
        permissions=NO_AWS,
    ),
    StepType(
        "test.wait",
        "Wait forever.",
        WaitInputs,
        NoOutputs,
        _wait,
        read_only=True,
        permissions=NO_AWS,
    ),
    StepType(
        "test.mutate",
        "Change something.",
        NoInputs,
        TokenOutputs,
        _mutate,
        plan=_plan_mutate,
        permissions=NO_AWS,
    ),
    StepType(
        "test.rogue",
        "Return undeclared outputs.",
        EchoInputs,
        EchoOutputs,
        _rogue,
        permissions=NO_AWS,
    ),
    StepType(
        "test.mark",
        "Mark moments for the timeline.",
        MarkInputs,
        NoOutputs,
        _mark,
        permissions=NO_AWS,
    ),
    StepType(
        "test.leak",
        "Leak a value everywhere.",
        LeakInputs,
        LeakOutputs,
        _leak,
        permissions=NO_AWS,
    ),
]
