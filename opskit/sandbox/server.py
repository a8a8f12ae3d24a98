"""The AWS side of the sandbox: moto's own server on loopback, with the
bundled stack's resources created through the real API (so every record has
the shape AWS gives it) and the bucket seeded with the bundled app.

The task definition is ``opskit/stack/task-definition.json.j2``, the one users
register, rendered with the sandbox's names: the sandbox runs what users deploy.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry, file_sha256
from opskit.sandbox.enforcement import Credentials
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.ports import check_port_free

STACK_DIR = Path(__file__).resolve().parent.parent / "stack"
TASK_DEFINITION_TEMPLATE = STACK_DIR / "task-definition.json.j2"
REGION = "us-east-1"
# The keys the sandbox signs with until it has created its own IAM user (moto takes
# any key while it does not enforce IAM); they only ever reach loopback.
ACCESS_KEY_ID = "opskit-sandbox"
SECRET_ACCESS_KEY = "opskit-sandbox-secret"
CODE_PREFIX = "src/"
IMAGE = "opskit-sandbox/chatbot:local"
NAMES = {
    "bucket": "chatbot-code",
    "cluster": "chatbot",
    "service": "chatbot",
    "container": "chatbot",
    "log_group": "/ecs/chatbot",
    "stream_prefix": "ecs",
}
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


class MotoSide:
    """moto's server plus boto3 clients on it."""

    def __init__(self, port: int = 0):
        self.port = port
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self.credentials = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)

    def use_credentials(self, credentials: Credentials) -> None:
        """Sign every later call with ``credentials`` (the sandbox's own IAM user)."""
        self.credentials = credentials
        self._clients.clear()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        # ThreadedMotoServer.start() waits forever if its bind fails: check first.
        check_port_free(self.port, "the AWS endpoint (moto)")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        _list_moto_modules_once()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def wrap_app(self, middleware: Any) -> None:
        """Put ``middleware(app)`` in front of moto's WSGI app (after ``start``).
        werkzeug's request handler reads its server's ``app`` for each request, and
        ``ThreadedMotoServer`` keeps that server as ``_server`` (moto 5)."""
        werkzeug_server = self._server._server
        werkzeug_server.app = middleware(werkzeug_server.app)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from opskit.aws import boto3_session

            self._clients[service] = boto3_session().client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=REGION,
                aws_access_key_id=self.credentials.access_key_id,
                aws_secret_access_key=self.credentials.secret_access_key,
            )
        return self._clients[service]

    def create_resources(
        self, app_source: Path, services: list[dict[str, str]] | None = None
    ) -> None:
        """Bucket (versioned, so releases can be restored), cluster, and for each
        service (``service_names(i)``; the first alone by default): its code
        prefix seeded, log group, task definition and service."""
        services = services or [service_names(1)]
        s3 = self.client("s3")
        s3.create_bucket(Bucket=NAMES["bucket"])
        s3.put_bucket_versioning(
            Bucket=NAMES["bucket"], VersioningConfiguration={"Status": "Enabled"}
        )
        ecs = self.client("ecs")
        ecs.create_cluster(clusterName=NAMES["cluster"])
        network = default_network(self.client("ec2"))
        for names in services:
            seed_bucket(s3, names["bucket"], names["code_prefix"], app_source)
            self.client("logs").create_log_group(logGroupName=names["log_group"])
            definition = task_definition(names)
            ecs.register_task_definition(**definition)
            ecs.create_service(
                cluster=names["cluster"],
                serviceName=names["service"],
                taskDefinition=definition["family"],
                desiredCount=1,
                launchType="FARGATE",
                deploymentController={"type": "ECS"},
                networkConfiguration=network,
            )


def _list_moto_modules_once() -> None:
    """moto 5's server lists its own package directory on every request to find
    the service a host names (``backends.list_of_moto_modules``: a listdir and an
    isdir per entry, about a third of a small request's time); the listing never
    changes while it runs, so read it once."""
    from moto import backends

    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is None or getattr(listing, "opskit_listed_once", False):
        return
    modules = tuple(listing())

    def listed_once() -> tuple[str, ...]:
        return modules

    listed_once.opskit_listed_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = listed_once


def service_names(index: int) -> dict[str, str]:
    """The names of the sandbox's service number ``index`` (from 1). The first has
    the stack's own names, so a playbook written for one service runs on it
    whatever the count; service N has its own service, task definition family,
    log group and code prefix (``chatbot-N``, ``/ecs/chatbot-N``,
    ``chatbot-N/src/``) in the same bucket and cluster."""
    if index < 1:
        raise SandboxError(f"service numbers start at 1, got {index}")
    if index == 1:
        return {**NAMES, "code_prefix": CODE_PREFIX}
    service = f"{NAMES['service']}-{index}"
    return {
        **NAMES,
        "service": service,
        "log_group": f"{NAMES['log_group']}-{index}",
        "code_prefix": f"{service}/{CODE_PREFIX}",
    }


def default_network(ec2: Any) -> dict[str, Any]:
    """A Fargate service's ``networkConfiguration`` in the default VPC (two of its
    subnets, its default security group): awsvpc tasks need one, on moto as on AWS."""
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    return {
        "awsvpcConfiguration": {
            "subnets": sorted(s["SubnetId"] for s in subnets["Subnets"])[:2],
            "securityGroups": [group["GroupId"]],
            "assignPublicIp": "DISABLED",
        }
    }


def task_definition(names: dict[str, str] | None = None) -> dict[str, Any]:
    """The stack's task definition as users register it (the template), with the
    sandbox's names. The app calls Bedrock as in production: the sandbox's tasks
    reach its own Bedrock Runtime endpoint (``opskit.sandbox.bedrock``).
    ``names``: one service's (``service_names``), the first's by default."""
    names = names or service_names(1)
    import jinja2

    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        TASK_DEFINITION_TEMPLATE.read_text(encoding="utf-8")
    )
    definition: dict[str, Any] = json.loads(
        template.render(
            family=names["service"],
            image=IMAGE,
            region=REGION,
            bucket=names["bucket"],
            code_prefix=names["code_prefix"],
            log_group=names["log_group"],
            stream_prefix=names["stream_prefix"],
            model_provider="bedrock",
        )
    )
    containers = [c["name"] for c in definition["containerDefinitions"]]
    if containers != [NAMES["container"]]:
        raise SandboxError(
            f"{TASK_DEFINITION_TEMPLATE}: the sandbox runs one container named "
            f"{NAMES['container']!r}, the template has {containers}"
        )
    return definition


def seed_bucket(s3: Any, bucket: str, prefix: str, source: Path) -> Manifest:
    """Upload ``source`` under ``prefix`` with SHA-256 checksums, then its
    manifest, so that the first task finds a release it can verify."""
    if not source.is_dir():
        raise SandboxError(f"the bundled app is missing: {source} is not a directory")
    entries = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or path.suffix in _SKIP_SUFFIXES:
            continue
        if any(part in _SKIP_DIRS for part in relative.parts):
            continue
        key = relative.as_posix()
        response = s3.put_object(
            Bucket=bucket,
            Key=prefix + key,
            Body=path.read_bytes(),
            ChecksumAlgorithm="SHA256",
        )
        entries.append(
            ManifestEntry(key, path.stat().st_size, file_sha256(path), response.get("ETag"))
        )
    manifest = Manifest(entries, generator="opskit sandbox")
    s3.put_object(
        Bucket=bucket,
        Key=prefix + MANIFEST_NAME,
        Body=manifest.to_json().encode(),
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
    )
    return manifest
