"""Which IAM authorizations an AWS request needs, as AWS decides them.

moto's own check (``moto/core/authorization.py``, ``moto/iam/access_control.py``)
authorizes a request's API operation name, not its IAM action (``s3:HeadObject``
where AWS checks ``s3:GetObject``, ``s3:ListObjectsV2`` for ``s3:ListBucket``), on
``*`` for every service but S3, IAM, STS and SQS, and ignores conditions. This
module says what AWS checks instead, following the Service Authorization
Reference and each API's "Permissions" section: the IAM action, the ARN it is
evaluated on and the condition keys the request carries (``s3:prefix``,
``ecs:cluster``, ``iam:PassedToService``, ``ecs:CreateAction``), and what depends
on the service's state (a read of a missing S3 key needs ``s3:ListBucket`` too:
S3 answers 403 for it, not 404, to a caller who may not list the bucket). The
operations opskit and the sandbox call are mapped; any other is checked as moto
would, ``service:Operation`` on ``*``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opskit.iam.resources import ECS_TASKS_SERVICE


@dataclass(frozen=True)
class Request:
    """One request as the authorization needs it."""

    service: str  # the signing name: s3, ecs, logs, ...
    operation: str  # the API operation (botocore's name)
    region: str
    account: str
    params: Mapping[str, Any] = field(default_factory=dict)  # JSON body, or the query string
    headers: Mapping[str, str] = field(default_factory=dict)
    bucket: str = ""
    key: str = ""
    body: bytes = b""
    partition: str = "aws"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Check:
    """One authorization: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


# -- S3 ("Required permissions for Amazon S3 API operations", S3 User Guide) -------

ObjectExists = Callable[[str, str, "str | None"], bool]  # (bucket, key, version id)


def _bucket(request: Request) -> str:
    return f"arn:{request.partition}:s3:::{request.bucket}"


def _object(request: Request, bucket: str | None = None, key: str | None = None) -> str:
    key = request.key if key is None else key
    return f"arn:{request.partition}:s3:::{bucket or request.bucket}/{key}"


def _listing(action: str) -> Callable[[Request], list[Check]]:
    def checks(request: Request) -> list[Check]:
        prefix = request.params.get("prefix")
        context = {"s3:prefix": prefix} if prefix is not None else {}
        return [Check(action, _bucket(request), context)]

    return checks


def _read(request: Request, object_exists: ObjectExists) -> list[Check]:
    """GetObject/HeadObject: s3:GetObjectVersion when a versionId is named, else
    s3:GetObject. For an object (or version) that does not exist, S3 answers 404 only
    to a caller who may also list the bucket, and 403 to anyone else (GetObject and
    HeadObject, "Permissions"): not being allowed to list means not being allowed to
    learn which keys exist. The listing is asked for with no ``s3:prefix`` (the
    request names a key, not a listing), so a policy that lets the caller list only
    under a prefix does not answer 404."""
    version = request.params.get("versionId") or None
    found = [Check("s3:GetObjectVersion" if version else "s3:GetObject", _object(request))]
    if not object_exists(request.bucket, request.key, version):
        found.append(Check("s3:ListBucket", _bucket(request)))
    return found


def _delete(request: Request) -> list[Check]:
    action = "s3:DeleteObjectVersion" if request.params.get("versionId") else "s3:DeleteObject"
    return [Check(action, _object(request))]


def _delete_objects(request: Request) -> list[Check]:
    """DeleteObjects: s3:DeleteObject (or s3:DeleteObjectVersion with a VersionId)
    for every key of the request's body."""
    from xml.etree import ElementTree

    checks = []
    root = ElementTree.fromstring(request.body or b"<Delete/>")
    for item in root:
        if item.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in item}
        action = "s3:DeleteObjectVersion" if fields.get("VersionId") else "s3:DeleteObject"
        checks.append(Check(action, _object(request, key=fields.get("Key", ""))))
    return checks


def _copy(request: Request) -> list[Check]:
    """CopyObject: s3:PutObject on the copy, s3:GetObject (s3:GetObjectVersion for a
    named version) on its source, ``x-amz-copy-source: bucket/key[?versionId=V]``."""
    source = request.headers.get("x-amz-copy-source", "")
    path, _, query = source.lstrip("/").partition("?")
    bucket, _, key = urllib.parse.unquote(path).partition("/")
    version = urllib.parse.parse_qs(query).get("versionId")
    read = "s3:GetObjectVersion" if version else "s3:GetObject"
    return [
        Check("s3:PutObject", _object(request)),
        Check(read, _object(request, bucket=bucket, key=key)),
    ]


def _on_object(action: str) -> Callable[[Request], list[Check]]:
    return lambda request: [Check(action, _object(request))]


def _on_bucket(action: str) -> Callable[[Request], list[Check]]:
    return lambda request: [Check(action, _bucket(request))]


# -- ECS ("Actions, resources, and condition keys for Amazon ECS") -------------------


def _cluster(request: Request) -> tuple[str, str]:
    """The request's cluster: (name, ARN); ECS takes ``default`` when none is named."""
    given = str(request.params.get("cluster") or "default")
    name = given.rsplit("/", 1)[-1] if given.startswith("arn:") else given
    return name, request.arn("ecs", f"cluster/{name}")


def _service_arn(request: Request, service: str) -> str:
    if service.startswith("arn:") and service.count("/") == 2:
        return service
    name = service.rsplit("/", 1)[-1]
    return request.arn("ecs", f"service/{_cluster(request)[0]}/{name}")


def _describe_services(request: Request) -> list[Check]:
    _, cluster = _cluster(request)
    return [
        Check("ecs:DescribeServices", _service_arn(request, str(s)), {"ecs:cluster": cluster})
        for s in request.params.get("services") or []
    ]


def _update_service(request: Request) -> list[Check]:
    _, cluster = _cluster(request)
    arn = _service_arn(request, str(request.params.get("service", "")))
    return [Check("ecs:UpdateService", arn, {"ecs:cluster": cluster})]


def _service_deployment(action: str) -> Callable[[Request], list[Check]]:
    """Continue/Stop a service deployment: the ARN the request names."""

    def checks(request: Request) -> list[Check]:
        return [Check(action, str(request.params.get("serviceDeploymentArn", "")))]

    return checks


def _describe_service_deployments(request: Request) -> list[Check]:
    return [
        Check("ecs:DescribeServiceDeployments", str(arn))
        for arn in request.params.get("serviceDeploymentArns") or []
    ]


def _list_service_deployments(request: Request) -> list[Check]:
    _, cluster = _cluster(request)
    arn = _service_arn(request, str(request.params.get("service", "")))
    return [Check("ecs:ListServiceDeployments", arn, {"ecs:cluster": cluster})]


def _list_tasks(request: Request) -> list[Check]:
    # Its resource type is container-instance: a Fargate cluster has none, and
    # AWS evaluates the request on "*" (its AccessDenied says "on resource: *").
    return [Check("ecs:ListTasks", "*", {"ecs:cluster": _cluster(request)[1]})]


def _describe_tasks(request: Request) -> list[Check]:
    name, cluster = _cluster(request)
    checks = []
    for task in request.params.get("tasks") or []:
        task_id = str(task).rsplit("/", 1)[-1]
        arn = request.arn("ecs", f"task/{name}/{task_id}")
        checks.append(Check("ecs:DescribeTasks", arn, {"ecs:cluster": cluster}))
    return checks


def _register_task_definition(request: Request, next_revision: Callable[[str], int]) -> list[Check]:
    """RegisterTaskDefinition takes ``*``; it passes the task and execution roles to
    ECS (iam:PassRole, iam:PassedToService) and tags the revision it creates
    (ecs:TagResource with ecs:CreateAction) when the request carries tags."""
    params = request.params
    checks = [Check("ecs:RegisterTaskDefinition", "*")]
    for key in ("taskRoleArn", "executionRoleArn"):
        if params.get(key):
            passed = {"iam:PassedToService": ECS_TASKS_SERVICE}
            checks.append(Check("iam:PassRole", str(params[key]), passed))
    if params.get("tags"):
        family = str(params.get("family", ""))
        arn = request.arn("ecs", f"task-definition/{family}:{next_revision(family)}")
        created = {"ecs:CreateAction": "RegisterTaskDefinition"}
        checks.append(Check("ecs:TagResource", arn, created))
    return checks


# -- CloudWatch Logs ------------------------------------------------------------------


def _group(request: Request) -> str:
    # The form with :* is what IAM evaluates for group-level actions ("CloudWatch
    # Logs resources and operations", CloudWatch Logs User Guide).
    return request.arn("logs", f"log-group:{request.params.get('logGroupName', '')}:*")


def _stream(request: Request) -> str:
    group = request.params.get("logGroupName", "")
    stream = request.params.get("logStreamName", "")
    return request.arn("logs", f"log-group:{group}:log-stream:{stream}")


def _on_group(action: str) -> Callable[[Request], list[Check]]:
    return lambda request: [Check(action, _group(request))]


def _on_stream(action: str) -> Callable[[Request], list[Check]]:
    return lambda request: [Check(action, _stream(request))]


def _describe_log_groups(request: Request) -> list[Check]:
    # A listing across the account's groups, whatever prefix it filters by: AWS
    # names this resource in the AccessDenied of a policy scoped to one group.
    return [Check("logs:DescribeLogGroups", request.arn("logs", "log-group::log-stream:"))]


_HANDLERS: dict[tuple[str, str], Callable[[Request], list[Check]]] = {
    ("s3", "ListObjectsV2"): _listing("s3:ListBucket"),
    ("s3", "ListObjects"): _listing("s3:ListBucket"),
    ("s3", "HeadBucket"): _on_bucket("s3:ListBucket"),
    ("s3", "ListObjectVersions"): _listing("s3:ListBucketVersions"),
    ("s3", "GetBucketVersioning"): _on_bucket("s3:GetBucketVersioning"),
    ("s3", "PutObject"): _on_object("s3:PutObject"),
    ("s3", "CreateMultipartUpload"): _on_object("s3:PutObject"),
    ("s3", "UploadPart"): _on_object("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _on_object("s3:PutObject"),
    ("s3", "AbortMultipartUpload"): _on_object("s3:AbortMultipartUpload"),
    ("s3", "CopyObject"): _copy,
    ("s3", "DeleteObject"): _delete,
    ("s3", "DeleteObjects"): _delete_objects,
    ("ecs", "DescribeServices"): _describe_services,
    ("ecs", "UpdateService"): _update_service,
    ("ecs", "ListTasks"): _list_tasks,
    ("ecs", "ListServiceDeployments"): _list_service_deployments,
    ("ecs", "DescribeServiceDeployments"): _describe_service_deployments,
    ("ecs", "ContinueServiceDeployment"): _service_deployment("ecs:ContinueServiceDeployment"),
    ("ecs", "StopServiceDeployment"): _service_deployment("ecs:StopServiceDeployment"),
    ("ecs", "DescribeTasks"): _describe_tasks,
    ("ecs", "DescribeTaskDefinition"): lambda request: [Check("ecs:DescribeTaskDefinition", "*")],
    ("logs", "DescribeLogGroups"): _describe_log_groups,
    ("logs", "FilterLogEvents"): _on_group("logs:FilterLogEvents"),
    ("logs", "DescribeLogStreams"): _on_group("logs:DescribeLogStreams"),
    ("logs", "GetLogEvents"): _on_stream("logs:GetLogEvents"),
    ("logs", "CreateLogStream"): _on_stream("logs:CreateLogStream"),
    ("logs", "PutLogEvents"): _on_stream("logs:PutLogEvents"),
}

# Signing names that are not the IAM service prefix: CloudWatch signs as
# ``monitoring`` while IAM names its actions ``cloudwatch:...``.
IAM_PREFIX = {"monitoring": "cloudwatch"}

# Needs no permission: always allowed, even under an explicit Deny (IAM User Guide).
UNCHECKED = {("sts", "GetCallerIdentity")}


def checks(
    request: Request,
    next_revision: Callable[[str], int] = lambda family: 1,
    object_exists: ObjectExists = lambda bucket, key, version_id: True,
) -> list[Check]:
    """What AWS authorizes for ``request``. What it depends on beyond the request is
    asked of the service's state: ``next_revision(family)``, the revision a
    RegisterTaskDefinition would create (its tag-on-create check), and
    ``object_exists(bucket, key, version_id)``, whether a read finds its object
    (S3's 403 for a missing key)."""
    operation = (request.service, request.operation)
    if operation in UNCHECKED:
        return []
    if operation == ("ecs", "RegisterTaskDefinition"):
        return _register_task_definition(request, next_revision)
    if operation in (("s3", "GetObject"), ("s3", "HeadObject")):
        return _read(request, object_exists)
    handler = _HANDLERS.get((request.service, request.operation))
    if handler is not None:
        return handler(request)
    prefix = IAM_PREFIX.get(request.service, request.service)
    return [Check(f"{prefix}:{request.operation}", "*")]


def json_params(body: bytes | str | None) -> dict[str, Any]:
    """A JSON protocol request's parameters (empty when the body is not JSON)."""
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
