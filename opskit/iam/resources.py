"""The resources a need acts on: specs that read a step's input values by name.

They follow the Service Authorization Reference: S3 objects and buckets
(``s3:prefix`` scopes a listing), ECS services, tasks and the ``ecs:cluster``
condition of ``ListTasks`` (whose resource type, ``container-instance``, a
Fargate service has none of, so AWS evaluates it on ``*``), CloudWatch Logs
groups, the roles ``iam:PassRole`` hands to ECS tasks and KMS keys. What cannot
be known before the run (the roles and log groups of a task definition that is
read at run time) gets the narrowest honest wildcard and a note saying how to
narrow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opskit.iam.needs import Resolved
from opskit.iam.scope import UNKNOWN, Scope
from opskit.s3.location import parse_s3_url

ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"


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
class EcsServiceDeployments(EcsService):
    """The service deployments of a native strategy's service (the resource of
    DescribeServiceDeployments, ContinueServiceDeployment, StopServiceDeployment)."""

    def describe(self) -> str:
        return f"the service deployments of `{self.service}` in `{self.cluster}`"

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved:
        cluster, service = values[self.cluster], values[self.service]
        arn = scope.ecs_service_deployments(cluster, service)
        return Resolved((arn,), "EcsServiceDeployments")


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
