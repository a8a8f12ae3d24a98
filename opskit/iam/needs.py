"""A step type's permissions, declared as data: one ``Need`` per IAM action.

A need names the action, the resource it acts on (a spec that reads the step's
typed inputs and the target's ``Scope``), why the step calls it (the code path:
``opskit steps`` and ``docs/iam.md`` show it) and when (an input that switches
the path on, e.g. ``delete: true``). ``Permissions.grants`` turns the needs that
apply to one step's inputs into grants; ``opskit.iam.policy`` merges a
playbook's grants into statements.

Resource specs follow the Service Authorization Reference: S3 objects and
buckets (``s3:prefix`` scopes a listing), ECS services, tasks and the
``ecs:cluster`` condition of ``ListTasks`` (whose resource type,
``container-instance``, a Fargate service has none of, so AWS evaluates it on
``*``), CloudWatch Logs groups, the roles ``iam:PassRole`` hands to ECS tasks and
KMS keys. What cannot be known before the run (the roles and log groups of a
task definition that is read at run time) gets the narrowest honest wildcard
and a note saying how to narrow it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opskit.iam.scope import UNKNOWN, Scope
from opskit.s3.location import parse_s3_url

ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class Resolved:
    """The resource of one need for one step: ARNs (or patterns), a condition
    that narrows them, and a note when they are a wildcard."""

    arns: tuple[str, ...]
    kind: str  # what they are, as a Sid stem: S3Bucket, EcsService, LogsGroup, ...
    condition: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)
    note: str | None = None


class ResourceSpec(Protocol):
    @property
    def inputs(self) -> tuple[str, ...]:
        """The step inputs it reads."""
        ...

    def describe(self) -> str: ...

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved: ...


@dataclass(frozen=True)
class When:
    """A condition on the step's inputs under which a need applies."""

    test: Callable[[Mapping[str, Any]], bool]  # on the step's input values, by name
    text: str  # how docs and ``opskit steps`` say it, e.g. "delete: true"
    inputs: tuple[str, ...] = ()


ALWAYS = When(lambda _: True, "")


def flag(name: str, text: str | None = None) -> When:
    """The need applies when input ``name`` is set (true, non-zero, non-empty)."""
    return When(lambda values: bool(values[name]), text or f"{name}: true", (name,))


def any_of(*names: str) -> When:
    """The need applies when any of the inputs is set."""
    return When(
        lambda values: any(values[n] for n in names),
        " or ".join(names) + " set",
        names,
    )


def all_of(*names: str, text: str) -> When:
    """The need applies when every one of the inputs is set."""
    return When(lambda values: all(values[n] for n in names), text, names)


@dataclass(frozen=True)
class Need:
    action: str  # service:Action, as IAM names it
    on: ResourceSpec
    why: str  # the code path that calls it
    when: When = ALWAYS


@dataclass(frozen=True)
class Remark:
    """Something a policy reader must know when the inputs take a path that needs
    no statement (or one the policy cannot state); ``opskit iam`` prints it."""

    text: str
    when: When


@dataclass(frozen=True)
class Grant:
    """One action on resolved resources, for one step."""

    action: str
    resolved: Resolved
    step: str = ""

    @property
    def condition_key(self) -> str:
        return json.dumps(self.resolved.condition, sort_keys=True)


class Permissions:
    """A step type's needs (``StepType.permissions``). ``NO_AWS`` for a step that
    calls no AWS API."""

    def __init__(self, *needs: Need, remarks: tuple[Remark, ...] = ()):
        self.needs = needs
        self.remarks = remarks

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action any of its paths may call, sorted (what docs/iam.md lists)."""
        return tuple(sorted({need.action for need in self.needs}))

    @property
    def input_names(self) -> set[str]:
        found = {name for need in self.needs for name in (*need.on.inputs, *need.when.inputs)}
        return found | {name for remark in self.remarks for name in remark.when.inputs}

    def grants(self, values: Mapping[str, Any], scope: Scope, step: str = "") -> list[Grant]:
        """The grants a step's input values (by name, defaults filled in) switch on."""
        return [
            Grant(need.action, need.on.resolve(values, scope), step)
            for need in self.needs
            if need.when.test(values)
        ]

    def remarks_for(self, values: Mapping[str, Any]) -> list[str]:
        return [remark.text for remark in self.remarks if remark.when.test(values)]


NO_AWS = Permissions()


# -- resource specs ---------------------------------------------------------------


@dataclass(frozen=True)
class S3Bucket:
    """The bucket of an ``s3://bucket/prefix/`` input; ``listing`` scopes a
    ``ListBucket``/``ListBucketVersions`` to keys under the prefix (``s3:prefix``)."""

    input: str = "destination"
    listing: bool = False

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    def describe(self) -> str:
        where = f"the bucket of `{self.input}`"
        return where + (", listing under its prefix only (s3:prefix)" if self.listing else "")

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        location = parse_s3_url(values[self.input])
        condition: dict[str, dict[str, list[str]]] = {}
        if self.listing and location.prefix:
            condition = {"StringLike": {"s3:prefix": [location.prefix + "*"]}}
        return Resolved((scope.s3_bucket(location.bucket),), "S3Bucket", condition)


@dataclass(frozen=True)
class S3Objects:
    """Objects under an ``s3://bucket/prefix/`` input (``under``: a folder below it)."""

    input: str = "destination"
    under: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    def describe(self) -> str:
        return f"objects under `{self.input}`" + (f" in {self.under}" if self.under else "")

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        location = parse_s3_url(values[self.input])
        arn = scope.s3_objects(location.bucket, location.prefix + self.under)
        return Resolved((arn,), "S3Objects")


@dataclass(frozen=True)
class EcsService:
    cluster: str = "cluster"
    service: str = "service"

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.cluster, self.service)

    def describe(self) -> str:
        return f"the service `{self.service}` in `{self.cluster}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        cluster, service = values[self.cluster], values[self.service]
        return Resolved((scope.ecs_service(cluster, service),), "EcsService")


@dataclass(frozen=True)
class EcsTasks:
    cluster: str = "cluster"

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.cluster,)

    def describe(self) -> str:
        return f"the tasks of `{self.cluster}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        return Resolved((scope.ecs_tasks(values[self.cluster]),), "EcsTasks")


@dataclass(frozen=True)
class EcsTaskList:
    """``ListTasks``: its resource type is ``container-instance`` (none on
    Fargate), so the cluster is named by the ``ecs:cluster`` condition on ``*``."""

    cluster: str = "cluster"

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.cluster,)

    def describe(self) -> str:
        return f"`*` with ecs:cluster `{self.cluster}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        cluster = scope.ecs_cluster(values[self.cluster])
        return Resolved(("*",), "EcsListTasks", {"ArnEquals": {"ecs:cluster": [cluster]}})


@dataclass(frozen=True)
class Everything:
    """An action that takes no resource-level permission: ``*`` is the only resource."""

    kind: str
    inputs: tuple[str, ...] = ()

    def describe(self) -> str:
        return "`*` (no resource-level permission)"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        return Resolved(("*",), self.kind)


@dataclass(frozen=True)
class AllLogGroups:
    """``DescribeLogGroups`` lists names across the account's groups: AWS
    authorizes it on ``log-group:*`` whatever prefix it filters by."""

    inputs: tuple[str, ...] = ()

    def describe(self) -> str:
        return "every log group of the region (a listing of names)"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        return Resolved((scope.all_log_groups(),), "LogsDescribeGroups")


def _task_log_groups(scope: Scope, cluster: str | None, service: str | None) -> tuple[str, ...]:
    definition = scope.task_definition(cluster, service) if cluster and service else None
    groups = []
    for container in (definition or {}).get("containerDefinitions") or []:
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if options.get("awslogs-group"):
            groups.append(options["awslogs-group"])
    return tuple(dict.fromkeys(groups))


@dataclass(frozen=True)
class LogGroup:
    """The log group an input names; when the input is not set, the awslogs
    groups of the service's task definition (``cluster``/``service`` inputs),
    which are known before the run only for the sandbox."""

    input: str | None = "log_group"
    cluster: str | None = None
    service: str | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for n in (self.input, self.cluster, self.service) if n)

    def describe(self) -> str:
        if self.input is None:
            return "the log groups of the service's task definition"
        if self.cluster:
            return f"the log group `{self.input}` (default: the service's)"
        return f"the log group `{self.input}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        named = values[self.input] if self.input else None
        if named:
            return Resolved((scope.log_group(named),), "LogsGroup")
        cluster = values[self.cluster] if self.cluster else None
        service = values[self.service] if self.service else None
        groups = _task_log_groups(scope, cluster, service)
        if groups:
            return Resolved(tuple(scope.log_group(g) for g in groups), "LogsGroup")
        return Resolved(
            (scope.log_group(UNKNOWN),),
            "LogsGroup",
            note="the log groups come from the service's task definition (awslogs-group), "
            "read at run time: narrow the resource to yours",
        )


@dataclass(frozen=True)
class PassedRoles:
    """The roles a registered revision hands to ECS (``taskRoleArn``,
    ``executionRoleArn``): ``iam:PassRole`` on them, only to ECS tasks."""

    cluster: str = "cluster"
    service: str = "service"

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.cluster, self.service)

    def describe(self) -> str:
        return "the task and execution roles of the service's task definition"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        condition = {"StringEquals": {"iam:PassedToService": [ECS_TASKS_SERVICE]}}
        definition = scope.task_definition(values[self.cluster], values[self.service])
        roles = [
            str(definition[key])
            for key in ("taskRoleArn", "executionRoleArn")
            if definition and definition.get(key)
        ]
        if roles:
            return Resolved(tuple(scope.iam_role(r) for r in roles), "IamPassRole", condition)
        return Resolved(
            (scope.iam_role("*"),),
            "IamPassRole",
            condition,
            note="the roles come from the service's task definition (taskRoleArn, "
            "executionRoleArn), read at run time: narrow the resource to those two",
        )


@dataclass(frozen=True)
class NewTaskDefinition:
    """The revision a step registers: ``ecs:TagResource`` on it, only as part of
    ``RegisterTaskDefinition`` (``ecs:CreateAction``), for the tags it copies. Its
    family is the one ``task_definition`` names, else the service's."""

    cluster: str = "cluster"
    service: str = "service"
    task_definition: str = "task_definition"

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.cluster, self.service, self.task_definition)

    def describe(self) -> str:
        return "the revision registered (ecs:CreateAction RegisterTaskDefinition)"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        named = str(values[self.task_definition] or "")
        if named and named != "previous":
            family = named.rsplit("/", 1)[-1].split(":", 1)[0]
        else:
            definition = scope.task_definition(values[self.cluster], values[self.service])
            family = str((definition or {}).get("family") or UNKNOWN)
        condition = {"StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition"]}}
        note = None
        if family == UNKNOWN:
            note = (
                "the family comes from the service's task definition, read at run time: "
                "narrow the resource to task-definition/FAMILY:*"
            )
        return Resolved((scope.ecs_task_definitions(family),), "EcsTagOnCreate", condition, note)


@dataclass(frozen=True)
class KmsKey:
    """The KMS key an input names: a key id or ARN is the resource; an alias
    (``alias/NAME``) is matched with ``kms:ResourceAliases`` on the region's keys."""

    input: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    def describe(self) -> str:
        return f"the KMS key `{self.input}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        key = str(values[self.input])
        alias = key.split(":", 5)[-1] if key.startswith("arn:") else key
        if alias.startswith("alias/"):
            return Resolved(
                (scope.kms_key(UNKNOWN),),
                "KmsKey",
                {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}},
            )
        return Resolved((scope.kms_key(key),), "KmsKey")
