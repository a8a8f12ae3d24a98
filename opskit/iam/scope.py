"""What is known of a target without calling AWS, and the ARNs built from it.

``opskit iam`` calls nothing on AWS: the region and account come from the
target (``*`` when it does not say), and for the sandbox its fixed names and
task definitions are known. ARN formats are the Service Authorization
Reference's (``arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}``
and so on); an input that already is an ARN is used as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "*"


def _name(value: str) -> str:
    """The last path part of an ARN (a cluster's name), or the value itself."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


@dataclass(frozen=True)
class Scope:
    """A target as far as a policy needs it.

    ``task_definitions`` maps ``cluster/service`` (names) to the task definition
    the service runs, when that is known before the run (the sandbox's, rendered
    from the bundled template): its roles and log groups then name exact
    resources instead of documented wildcards."""

    region: str = UNKNOWN
    account: str = UNKNOWN
    partition: str = "aws"
    task_definitions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        account = self.account if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    # -- S3: bucket and object ARNs have no region or account ---------------------
    def s3_bucket(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"

    def s3_objects(self, bucket: str, prefix: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}/{prefix}*"

    # -- ECS ------------------------------------------------------------------------
    def ecs_cluster(self, cluster: str) -> str:
        if cluster.startswith("arn:"):
            return cluster
        return self.arn("ecs", f"cluster/{cluster}")

    def ecs_service(self, cluster: str, service: str) -> str:
        if service.startswith("arn:") and service.count("/") == 2:
            return service  # the long ARN format names its cluster
        return self.arn("ecs", f"service/{_name(cluster)}/{_name(service)}")

    def ecs_service_deployments(self, cluster: str, service: str) -> str:
        """Every service deployment of the service (their ids are ECS's)."""
        return self.arn("ecs", f"service-deployment/{_name(cluster)}/{_name(service)}/*")

    def ecs_tasks(self, cluster: str) -> str:
        return self.arn("ecs", f"task/{_name(cluster)}/*")

    def ecs_task_definitions(self, family: str = UNKNOWN) -> str:
        return self.arn("ecs", f"task-definition/{family}:*")

    def task_definition(self, cluster: str, service: str) -> Mapping[str, Any] | None:
        return self.task_definitions.get(f"{_name(cluster)}/{_name(service)}")

    # -- CloudWatch Logs --------------------------------------------------------------
    def log_group(self, name: str) -> str:
        # The form with the trailing :* is the one to use in IAM policies for every
        # action but TagResource/UntagResource/ListTagsForResource ("CloudWatch Logs
        # resources and operations", CloudWatch Logs User Guide); it covers the
        # group's streams (log-group:NAME:log-stream:STREAM) too.
        return self.arn("logs", f"log-group:{name}:*")

    def all_log_groups(self) -> str:
        return self.arn("logs", "log-group:*")

    # -- IAM and KMS ------------------------------------------------------------------
    def iam_role(self, role: str) -> str:
        if role.startswith("arn:"):
            return role
        return f"arn:{self.partition}:iam::{self.account}:role/{role}"

    def kms_key(self, key: str) -> str:
        if key.startswith("arn:"):
            return key
        return self.arn("kms", f"key/{key}")
