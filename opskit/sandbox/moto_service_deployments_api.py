"""moto's ECS answers ListServiceDeployments, DescribeServiceDeployments,
ContinueServiceDeployment and StopServiceDeployment from ``NativeRecords``.

moto 5.2 serves none of the four. Each answer is built from the records of the
service deployments kept on moto's ECS backend (``moto_service_deployments``)
and serialized by moto through botocore's ECS model, so its shapes are the
API's; errors carry the codes botocore's model names.
"""

from __future__ import annotations

from typing import Any

from opskit.sandbox.moto_service_deployments import (
    NativeRecords,
    all_records,
    error,
    kept_records,
)


def _not_found(arn: str) -> Exception:
    return error(
        "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
    )


def _owner(response: Any, arn: str) -> NativeRecords:
    for records in all_records(response.ecs_backend):
        if any(r["serviceDeploymentArn"] == arn for r in records.records):
            return records
    raise _not_found(arn)


def _list(response: Any) -> Any:
    from moto.core.responses import ActionResult

    cluster = str(response._get_param("cluster") or "default").split("/")[-1]
    service = str(response._get_param("service") or "").split("/")[-1]
    created = response._get_param("createdAt") or {}
    records = kept_records(response.ecs_backend).get((cluster, service))
    briefs = (
        records.list_briefs(
            list(response._get_param("status") or []), created.get("after"), created.get("before")
        )
        if records
        else []
    )
    return ActionResult({"serviceDeployments": briefs})


def _describe(response: Any) -> Any:
    from moto.core.responses import ActionResult

    arns = [str(a) for a in response._get_param("serviceDeploymentArns") or []]
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for records in all_records(response.ecs_backend):
        mine = [a for a in arns if any(r["serviceDeploymentArn"] == a for r in records.records)]
        if mine:
            shown, known = records.describe(mine)
            found += shown
            seen |= known
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in seen]
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _continue(response: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = str(response._get_param("serviceDeploymentArn"))
    _owner(response, arn).continue_hook(
        arn, str(response._get_param("hookId")), str(response._get_param("action"))
    )
    return ActionResult({"serviceDeploymentArn": arn})


def _stop(response: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = str(response._get_param("serviceDeploymentArn"))
    _owner(response, arn).stop(arn, str(response._get_param("stopType") or "ROLLBACK"))
    return ActionResult({"serviceDeploymentArn": arn})


def serve_service_deployments() -> None:
    """Add the four operations to moto's ECS responses (once per process; every
    moto server in it answers them, from the records of ``NativeRecords``)."""
    from moto.ecs.responses import EC2ContainerServiceResponse as Response

    if getattr(Response, "serves_service_deployments", False):
        return
    Response.list_service_deployments = _list  # type: ignore[attr-defined]
    Response.describe_service_deployments = _describe  # type: ignore[attr-defined]
    Response.continue_service_deployment = _continue  # type: ignore[attr-defined]
    Response.stop_service_deployment = _stop  # type: ignore[attr-defined]
    Response.serves_service_deployments = True  # type: ignore[attr-defined]
