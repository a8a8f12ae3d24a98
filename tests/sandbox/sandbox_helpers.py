"""Helpers for the sandbox tests: bounded waits, clients, process and port checks,
and a sandbox shared by a module's tests, put back as new before each of them."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from opskit.aws import boto3_session
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.sandbox import SandboxInfo, sandbox_for_run
from opskit.sandbox.core import STACK_DIR
from opskit.sandbox.server import seed_bucket
from tests.cli_helpers import Cli, CliResult


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")


def client(info: SandboxInfo, service: str) -> Any:
    """A boto3 client on the sandbox's endpoint, one per service and sandbox (tests
    poll through it, and making a client costs more than most calls)."""
    return _client(
        info.endpoint_url, info.region, info.access_key_id, info.secret_access_key, service
    )


_clients_lock = threading.Lock()


@functools.cache
def _client_unlocked(endpoint_url: str, region: str, key: str, secret: str, service: str) -> Any:
    return boto3_session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _client(*args: str) -> Any:
    with _clients_lock:  # boto3 builds clients unsafely across threads; calls are safe
        return _client_unlocked(*args)


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # our own zombie child counts as gone once reaped
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_using(endpoint_url: str) -> list[int]:
    """Pids of live processes whose environment points at this AWS endpoint:
    the task processes a sandbox started (read from /proc, independent of the
    sandbox's own bookkeeping)."""
    needle = f"AWS_ENDPOINT_URL={endpoint_url}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry.name))
    return found


ROOT = Path(__file__).resolve().parents[2]
BUNDLED_SRC = STACK_DIR / "src"
DIGEST_LINE = re.compile(r"code digest ([0-9a-f]{64}) verified")
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def running_task_ids(info: SandboxInfo, service: str = "chatbot") -> list[str]:
    """A sandbox service's RUNNING tasks (its task definition family is its name;
    moto ignores ``serviceName`` here)."""
    arns = client(info, "ecs").list_tasks(
        cluster="chatbot", family=service, desiredStatus="RUNNING"
    )["taskArns"]
    return [arn.rsplit("/", 1)[1] for arn in arns]


def stack_copy(destination: Path, *, broken: bool = False) -> Path:
    """The bundled app's ``src/`` copied to ``destination``; ``broken``: a release
    that crashes at start (a SyntaxError in ``core/backend.py``)."""
    import shutil

    shutil.copytree(BUNDLED_SRC, destination, ignore=shutil.ignore_patterns("__pycache__"))
    if broken:
        with open(destination / "core" / "backend.py", "a") as module:
            module.write("\ndef broken(:\n")
    return destination


# --- a sandbox shared by a module's tests ------------------------------------------


@contextmanager
def sandbox_in_this_process(services: int = 1, strategy: str = "ROLLING") -> Iterator[SandboxInfo]:
    """A sandbox with the real stack, in this process, on free ports: every run in
    this process uses it (``sandbox_for_run``, as a fleet's targets share one)
    until the ``with`` ends. ``strategy``: its services' deployment strategy."""
    said: list[str] = []
    with sandbox_for_run(said.append, app_port=0, services=services, strategy=strategy) as (
        info,
        started,
    ):
        assert started, f"a sandbox was already running in this process: {said}"
        yield info


@dataclass(frozen=True)
class SharedSandbox:
    """A module's sandbox and what it held when new."""

    info: SandboxInfo
    fresh: dict[str, FreshCode]
    # A background sandbox's (`opskit sandbox up`): runs find it through this file.
    state_file: Path | None = None


@dataclass(frozen=True)
class FreshCode:
    """What a new sandbox holds under one service's code prefix."""

    digest: str
    versions: int  # object versions under the prefix: the files and the manifest


def fresh_code(info: SandboxInfo) -> dict[str, FreshCode]:
    """Each service's code as the new sandbox seeded it, keyed by service."""
    s3 = client(info, "s3")
    fresh = {}
    for service in info.service_list():
        bucket, prefix = service["bucket"], service["code_prefix"]
        manifest = s3.get_object(Bucket=bucket, Key=prefix + MANIFEST_NAME)["Body"].read()
        versions, markers = _versions(s3, bucket, prefix)
        assert not markers, markers
        fresh[service["service"]] = FreshCode(Manifest.from_json(manifest).digest, len(versions))
    return fresh


def restore(info: SandboxInfo, fresh: dict[str, FreshCode], timeout: float = 120.0) -> None:
    """Put a shared sandbox back as new, so that no test depends on the one before:
    each service settled (its PRIMARY deployment COMPLETED, one task running and
    serving, none starting), its code prefix holding the bundled app alone (no
    release record, no other version), and its task running that code (a new
    deployment when it runs another release). A rollback still under way (a
    crashing release's circuit breaker) is waited for."""
    services = info.service_list()
    for service in services:
        wait_for(partial(settled, info, service), f"{service['service']} to settle", timeout)
    redeployed = {}
    for service in services:
        name = service["service"]
        _restore_code(client(info, "s3"), service["bucket"], service["code_prefix"], fresh[name])
        (task_id,) = running_task_ids(info, name)
        if digest_logged_by(info, service, task_id) != fresh[name].digest:
            client(info, "ecs").update_service(
                cluster=service["cluster"], service=name, forceNewDeployment=True
            )
            redeployed[name] = (service, task_id)
    for name, (service, old_task) in redeployed.items():
        wait_for(
            partial(_replaced, info, service, old_task),
            f"{name}'s new task on the bundled app",
            timeout,
        )


def _restore_code(s3: Any, bucket: str, prefix: str, fresh: FreshCode) -> None:
    versions, markers = _versions(s3, bucket, prefix)
    if markers or len(versions) != fresh.versions:
        _delete_versions(s3, bucket, versions + markers)
        seeded = seed_bucket(s3, bucket, prefix, BUNDLED_SRC)
        assert seeded.digest == fresh.digest, "the bundled app changed under the tests"


def _replaced(info: SandboxInfo, service: dict[str, str], old_task: str) -> bool:
    return running_task_ids(info, service["service"]) != [old_task] and settled(info, service)


def settled(info: SandboxInfo, service: dict[str, str]) -> bool:
    ecs = client(info, "ecs")
    (described,) = ecs.describe_services(cluster=service["cluster"], services=[service["service"]])[
        "services"
    ]
    deployments = described["deployments"]
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    others_done = all(d.get("rolloutState") == "FAILED" for d in deployments if d is not primary)
    return (
        primary["rolloutState"] == "COMPLETED"
        and primary["runningCount"] == primary["desiredCount"] == 1
        and others_done
        and len(running_task_ids(info, service["service"])) == 1
        and _health(service["app_url"]) == 200
    )


def digest_logged_by(info: SandboxInfo, service: dict[str, str], task_id: str) -> str | None:
    """The digest a task logged as verified at its start (``None``: not yet)."""
    stream = f"{service['stream_prefix']}/{service['container']}/{task_id}"
    events = client(info, "logs").get_log_events(
        logGroupName=service["log_group"], logStreamName=stream, startFromHead=True
    )["events"]
    for event in events:
        found = DIGEST_LINE.search(event["message"])
        if found:
            return found.group(1)
    return None


def bedrock_calls(info: SandboxInfo) -> list[dict[str, Any]]:
    """Every call the sandbox's Bedrock endpoint has served, oldest first."""
    with HTTP.open(f"{info.bedrock_endpoint_url}/opskit-api/calls", timeout=5) as response:
        return json.loads(response.read())["calls"]


def _health(app_url: str) -> int | None:
    try:
        with HTTP.open(app_url + "/_stcore/health", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def _versions(s3: Any, bucket: str, prefix: str) -> tuple[list[dict], list[dict]]:
    versions: list[dict] = []
    markers: list[dict] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for kind, found in (("Versions", versions), ("DeleteMarkers", markers)):
            found += [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get(kind, [])]
    return versions, markers


def _delete_versions(s3: Any, bucket: str, objects: list[dict]) -> None:
    for start in range(0, len(objects), 1000):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": objects[start : start + 1000], "Quiet": True}
        )
        assert not answer.get("Errors"), answer["Errors"]


PLAYBOOK = ROOT / "playbooks" / "redeploy.yaml"


def run_with_report(
    cli: Cli, report_dir: Path, playbook: Path = PLAYBOOK
) -> tuple[CliResult, dict[str, dict[str, Any]]]:
    """``opskit run PLAYBOOK --report DIR`` and its report's steps by id."""
    result = cli.run(playbook, "--report", str(report_dir))
    document = json.loads((report_dir / "report.json").read_text())
    return result, {step["id"]: step for step in document["steps"]}


@contextmanager
def background_sandbox() -> Iterator[SharedSandbox]:
    """A background sandbox (its own process, as `opskit sandbox up` leaves one,
    found through its state file) for a module's tests, stopped after them."""
    from opskit.sandbox import down, state_path, up

    info = up(app_port=0)
    try:
        yield SharedSandbox(info, fresh_code(info), state_file=state_path())
    finally:
        down()
