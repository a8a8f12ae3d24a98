"""The AWS behaviours that moto does not show and the sandbox can play, as faults.

Each is something AWS documents and a reader of ECS or CloudWatch Logs must
cope with; ``opskit sandbox fault ecs|logs KIND`` switches one on while the
sandbox runs. One fault per service and kind (the latest set wins); the kinds
of a service combine.

ECS (the sandbox plays Fargate):

- ``stale_reads``: the ECS API is eventually consistent (ECS API reference,
  "eventual consistency"). After an UpdateService, the next ``calls``
  DescribeServices answers show the service as it was before the update (the
  old deployment PRIMARY, no new one); after a task starts, the next ``calls``
  DescribeTasks that name it answer it under ``failures`` with reason
  ``MISSING`` (ListTasks lists it already); on a native strategy, the service
  deployment the update opened is left out of the next ``calls``
  ListServiceDeployments and answered ``MISSING`` by DescribeServiceDeployments.
- ``placement``: Fargate has no capacity. The service starts no task, and adds
  the service event "(service NAME) was unable to place a task. Reason:
  Capacity is unavailable at this time. Please try again later or in a
  different availability zone." ("Amazon ECS service event messages": the
  Fargate wording; "no container instance met all of its requirements" is EC2's,
  where container instances exist). ``calls`` placement attempts fail, or every
  attempt until the fault is cleared.
- ``spot``: the next ``calls`` tasks to start are reclaimed by Fargate Spot once
  RUNNING: stop code ``SpotInterruption``, stopped reason "Your Spot Task was
  interrupted." (the task state change event AWS documents for a Fargate Spot
  interruption); the service starts a replacement.

CloudWatch Logs:

- ``throttle``: the read APIs answer above their quotas (the CloudWatch Logs
  quotas page; ``FilterLogEvents`` 5 requests a second per account and Region)
  as AWS does: HTTP 400, ``ThrottlingException``, "Rate exceeded". ``rate``
  sets FilterLogEvents' quota; ``always`` throttles every read request
  (persistent throttling).
- ``late``: log lines of the sandbox's tasks become readable ``seconds`` after
  they were written, with their original timestamps, so a reader meets events
  older than events it has already read; ``match`` limits it to lines that
  contain one of the given texts (the other lines arrive on time).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from opskit.sandbox.bedrock.faults import count
from opskit.sandbox.faultfile import FaultInvalid

KINDS: dict[str, tuple[str, ...]] = {
    "ecs": ("stale_reads", "placement", "spot"),
    "logs": ("throttle", "late"),
}
# Without --calls: one stale answer a change, one Spot reclaim; placement fails
# until the fault is cleared (capacity does not come back by itself).
DEFAULT_CALLS = {"stale_reads": 1, "spot": 1, "placement": None}
FILTER_LOG_EVENTS_QUOTA = 5.0  # requests a second per account and Region


@dataclass(frozen=True, kw_only=True)
class FaultOptions:
    """What a fault is told besides its service and kind, each option read by some
    kinds only (``make_aws_fault`` refuses it for the others). Declared once:
    ``make_aws_fault``'s and ``set_aws_fault``'s parameters, a faults file's fields,
    the options of ``opskit sandbox fault ecs|logs``."""

    calls: int | None = None  # ecs: reads per change / placement attempts / reclaims
    rate: float | None = None  # logs throttle: FilterLogEvents requests a second
    always: bool = False  # logs throttle: every read request
    seconds: float | None = None  # logs late
    match: tuple[str, ...] = ()  # logs late: only lines holding one


OPTIONS = tuple(option.name for option in fields(FaultOptions))


@dataclass(frozen=True, kw_only=True)
class AwsFault(FaultOptions):
    """A checked fault (``make_aws_fault``): its options as the kind reads them."""

    service: str  # "ecs" or "logs"
    kind: str

    @property
    def key(self) -> str:
        return f"{self.service} {self.kind}"

    def describe(self) -> str:
        """One line for ``opskit sandbox status`` and the ``fault`` command."""
        if self.kind == "stale_reads":
            n = self.calls or 1
            return (
                f"stale reads: the next {n} DescribeServices after each UpdateService show the "
                f"service as before it, the next {n} DescribeTasks of each new task answer it "
                "MISSING"
            )
        if self.kind == "placement":
            attempts = "every attempt" if self.calls is None else count(self.calls, "attempt")
            return f"placement fails on {attempts} (Capacity is unavailable at this time)"
        if self.kind == "spot":
            tasks = count(self.calls or 1, "task")
            return f"Fargate Spot reclaims the next {tasks} once RUNNING (SpotInterruption)"
        if self.kind == "throttle":
            if self.always:
                return "every read request throttled (ThrottlingException: Rate exceeded)"
            rate = FILTER_LOG_EVENTS_QUOTA if self.rate is None else self.rate
            return (
                f"FilterLogEvents throttled above {rate:g} requests/s, the other reads above "
                "their quotas (ThrottlingException: Rate exceeded)"
            )
        lines = "lines" if not self.match else "lines holding " + " or ".join(map(repr, self.match))
        return f"{lines} readable {self.seconds:g} s late, with their original timestamps"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"service": self.service, "kind": self.kind}
        if self.calls is not None:
            document["calls"] = self.calls
        if self.rate is not None:
            document["rate"] = self.rate
        if self.always:
            document["always"] = True
        if self.kind == "late":
            document["seconds"] = self.seconds
            if self.match:
                document["match"] = list(self.match)
        return document


def make_aws_fault(service: str, kind: str, options: FaultOptions | None = None) -> AwsFault:
    """A checked ``AwsFault``: each option is accepted only by the kind that uses it."""
    if service not in KINDS:
        raise FaultInvalid(f"unknown service {service!r}; known: {', '.join(KINDS)}")
    if kind not in KINDS[service]:
        raise FaultInvalid(f"unknown fault {kind!r}; known: {', '.join(KINDS[service])}")
    given = options or FaultOptions()
    calls, rate, seconds, match = given.calls, given.rate, given.seconds, given.match
    for option, set_, owners in (
        ("calls", calls is not None, KINDS["ecs"]),
        ("rate", rate is not None, ("throttle",)),
        ("always", given.always, ("throttle",)),
        ("seconds", seconds is not None, ("late",)),
        ("match", bool(match), ("late",)),
    ):
        if set_ and kind not in owners:
            raise FaultInvalid(f"--{option} applies to {_joined(owners)} only, not to {kind}")
    if calls is not None and (isinstance(calls, bool) or not isinstance(calls, int) or calls < 1):
        raise FaultInvalid(f"--calls must be a whole number of at least 1, not {calls!r}")
    if rate is not None and (isinstance(rate, bool) or not rate > 0):
        raise FaultInvalid(f"--rate must be requests a second above 0, not {rate!r}")
    if rate is not None and given.always:
        raise FaultInvalid("--rate and --always exclude each other (--always throttles every read)")
    if kind == "late" and (seconds is None or isinstance(seconds, bool) or not seconds > 0):
        raise FaultInvalid("late needs --seconds, a number above 0")
    if any(not isinstance(text, str) or not text for text in match):
        raise FaultInvalid("--match needs a text that a log line holds, not an empty one")
    return AwsFault(
        service=service,
        kind=kind,
        calls=calls if calls is not None else DEFAULT_CALLS.get(kind),
        rate=float(rate) if rate is not None else None,
        always=bool(given.always),
        seconds=float(seconds) if seconds is not None else None,
        match=tuple(match),
    )


def aws_fault_from_json(document: Any) -> AwsFault:
    if not isinstance(document, dict):
        raise FaultInvalid(f"a fault is an object with service and kind, not {document!r}")
    unknown = set(document) - {"service", "kind", *OPTIONS}
    if unknown:
        raise FaultInvalid(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    match = document.get("match") or []
    if not isinstance(match, list):
        raise FaultInvalid(f"match is a list of texts, not {match!r}")
    given = {name: document[name] for name in OPTIONS if name in document}
    given.update(match=tuple(match), always=bool(document.get("always", False)))
    try:
        return make_aws_fault(
            str(document["service"]), str(document["kind"]), FaultOptions(**given)
        )
    except KeyError as missing:
        raise FaultInvalid(f"a fault needs {missing.args[0]!r}") from None
    except TypeError as err:
        raise FaultInvalid(f"a fault field has the wrong type ({err})") from None


def _joined(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
