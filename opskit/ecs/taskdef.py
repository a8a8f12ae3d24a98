"""Task definitions: read one, derive a new revision, find where its logs go.

A new revision copies every registrable field of the current one (as
ecs-deploy does) and changes only the images and environment variables asked
for, so nothing else about the service changes by surprise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.aws import describe_client_error, error_code
from opskit.ecs.names import stream_name
from opskit.errors import StepError

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

# The fields register_task_definition accepts; describe returns more (ARN,
# revision, status, requiresAttributes, compatibilities, registeredAt, ...).
REGISTRABLE_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)


@dataclass(frozen=True)
class LogTarget:
    """Where the awslogs driver writes a container's output.

    The stream of a task is ``PREFIX/CONTAINER/TASK_ID`` in ``group``.
    """

    group: str
    stream_prefix: str
    container: str
    region: str = ""

    def stream(self, task_id: str, container: str | None = None) -> str:
        return stream_name(self.stream_prefix, container or self.container, task_id)


@dataclass(frozen=True)
class Changes:
    """Images by container name and environment by container name (``None`` removes)."""

    images: dict[str, str]
    environment: dict[str, dict[str, str | None]]

    def __bool__(self) -> bool:
        return bool(self.images or self.environment)

    def describe(self) -> str:
        parts = [f"image {name}={image}" for name, image in sorted(self.images.items())]
        for name, variables in sorted(self.environment.items()):
            for key, value in sorted(variables.items()):
                parts.append(f"env {name}.{key}" + (" removed" if value is None else " set"))
        return ", ".join(parts)


class Undescribable(StepError):
    """ECS answered ``ClientException``: no such task definition (never registered,
    or deleted: "Unable to describe task definition.")."""


def describe_task_definition(aws: AwsAccess, name: str) -> dict[str, Any]:
    """The task definition (``family``, ``family:rev`` or ARN), its tags copied in;
    one line if missing."""
    from botocore.exceptions import ClientError

    ecs = aws.client("ecs")
    with aws.call(f"ecs DescribeTaskDefinition {name}"):
        try:
            response = ecs.describe_task_definition(taskDefinition=name, include=["TAGS"])
        except ClientError as err:
            kind = Undescribable if error_code(err) == "ClientException" else StepError
            raise kind(
                f"target {aws.target!r}: task definition {name!r}: {describe_client_error(err)}"
            ) from None
    definition = dict(response["taskDefinition"])
    if response.get("tags"):
        definition["tags"] = response["tags"]
    return definition


def _family_revision(arn: str) -> tuple[str, int]:
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    if not family or not revision.isdigit():
        raise StepError(f"cannot tell the revision of task definition {arn!r}")
    return family, int(revision)


@dataclass(frozen=True)
class PreviousRevision:
    """What ``task_definition: previous`` chose, and the revisions it passed over."""

    definition: dict[str, Any]
    skipped: tuple[tuple[str, str], ...]  # (family:revision, status)

    def describe(self) -> str:
        """``task_definition: previous is chatbot:5 (skipped chatbot:6, INACTIVE)``."""
        chosen = f"{self.definition.get('family')}:{self.definition.get('revision')}"
        text = f"task_definition: previous is {chosen}"
        return text + (f" (skipped {skipped_text(self.skipped)})" if self.skipped else "")


def skipped_text(skipped: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{name}, {status}" for name, status in skipped)


def previous_active_revision(aws: AwsAccess, current: str) -> PreviousRevision:
    """The newest ACTIVE revision of ``current``'s family below it: what
    ``task_definition: previous`` deploys.

    A deregistered revision is INACTIVE (then DELETE_IN_PROGRESS and gone once
    deleted): ECS still describes it and can still run it, so only its status
    says it was withdrawn. Revisions are described from N-1 down (DescribeTaskDefinition
    on each): the common case is one call, the description that the step needs
    anyway. A revision ECS cannot describe any more ("Unable to describe task
    definition.", a ``ClientException``) was deleted. ``StepError`` naming the
    skipped revisions when none below N is ACTIVE.
    """
    family, revision = _family_revision(current)
    if revision <= 1:
        raise StepError(
            f"task_definition: previous: the service runs {family}:{revision}, the first "
            "revision; there is no previous one to deploy"
        )
    skipped: list[tuple[str, str]] = []
    for number in range(revision - 1, 0, -1):
        name = f"{family}:{number}"
        try:
            definition = describe_task_definition(aws, name)
        except Undescribable:
            skipped.append((name, "deleted"))
            continue
        status = str(definition.get("status") or "ACTIVE")
        if status != "ACTIVE":
            skipped.append((name, status))
            continue
        return PreviousRevision(definition, tuple(skipped))
    raise StepError(
        f"task_definition: previous: no ACTIVE revision of {family} below "
        f"{family}:{revision} (skipped {skipped_text(tuple(skipped))})"
    )


def essential_container(definition: dict[str, Any]) -> dict[str, Any]:
    """The container whose logs matter: the first essential one with awslogs, else
    the first essential one (ECS treats a container without ``essential`` as essential)."""
    containers = definition.get("containerDefinitions") or []
    essential = [c for c in containers if c.get("essential", True)] or containers
    if not essential:
        raise StepError(f"task definition {definition.get('family')!r} has no containers")
    with_logs = [c for c in essential if _awslogs_options(c) is not None]
    return (with_logs or essential)[0]


def _awslogs_options(container: dict[str, Any]) -> dict[str, str] | None:
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    return dict(config.get("options") or {})


def log_target(definition: dict[str, Any]) -> LogTarget | None:
    """The essential container's awslogs group and stream prefix; ``None`` when it
    does not log with awslogs or sets no stream prefix (then stream names cannot
    be derived from task ids)."""
    container = essential_container(definition)
    options = _awslogs_options(container)
    if not options or not options.get("awslogs-group") or not options.get("awslogs-stream-prefix"):
        return None
    return LogTarget(
        group=options["awslogs-group"],
        stream_prefix=options["awslogs-stream-prefix"],
        container=container.get("name", ""),
        region=options.get("awslogs-region", ""),
    )


def container_log_targets(definition: dict[str, Any]) -> dict[str, LogTarget]:
    """Every container that logs with awslogs and a stream prefix, by name."""
    targets = {}
    for container in definition.get("containerDefinitions") or []:
        options = _awslogs_options(container)
        if options and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
            name = container.get("name", "")
            targets[name] = LogTarget(
                options["awslogs-group"], options["awslogs-stream-prefix"], name,
                options.get("awslogs-region", ""),
            )  # fmt: skip
    return targets


def parse_changes(
    definition: dict[str, Any],
    image: str | dict[str, str] | None,
    environment: dict[str, Any] | None,
) -> Changes:
    """Normalise the ``image``/``environment`` inputs against the container names.

    A bare image (or a flat ``NAME: value`` environment) applies to the essential
    container; a mapping keyed by container names applies per container. Unknown
    container names are an error naming the known ones.
    """
    names = [c.get("name", "") for c in definition.get("containerDefinitions") or []]
    default = essential_container(definition).get("name", "")

    def known(name: str) -> str:
        if name not in names:
            raise StepError(
                f"task definition {definition.get('family')!r} has no container {name!r} "
                f"(containers: {', '.join(names)})"
            )
        return name

    images: dict[str, str] = {}
    if isinstance(image, str):
        images[default] = image
    elif image:
        images = {known(str(k)): str(v) for k, v in image.items()}
    env: dict[str, dict[str, str | None]] = {}
    if environment:
        if all(isinstance(v, dict) for v in environment.values()):
            for name, variables in environment.items():
                env[known(str(name))] = {str(k): _env_value(v) for k, v in variables.items()}
        else:
            env[default] = {str(k): _env_value(v) for k, v in environment.items()}
    return Changes(images, env)


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_changes(definition: dict[str, Any], changes: Changes) -> dict[str, Any]:
    """The register_task_definition arguments for a revision with ``changes`` applied."""
    args = {k: copy.deepcopy(definition[k]) for k in REGISTRABLE_FIELDS if definition.get(k)}
    if definition.get("tags"):
        args["tags"] = copy.deepcopy(definition["tags"])
    for container in args.get("containerDefinitions", []):
        name = container.get("name", "")
        if name in changes.images:
            container["image"] = changes.images[name]
        if name in changes.environment:
            current = {e["name"]: e.get("value", "") for e in container.get("environment") or []}
            for key, value in changes.environment[name].items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            container["environment"] = [{"name": k, "value": v} for k, v in current.items()]
    return args


def register_revision(aws: AwsAccess, args: dict[str, Any]) -> dict[str, Any]:
    """Register the new revision; returns the registered task definition."""
    ecs = aws.client("ecs")
    family = args.get("family", "?")
    with aws.call(f"ecs RegisterTaskDefinition {family}"):
        return ecs.register_task_definition(**args)["taskDefinition"]
