"""Compare a task definition file with a registered revision.

Both sides are normalized first so that an unchanged file shows no difference:
DescribeTaskDefinition returns read-only fields and fills in ECS's defaults,
which a file rarely writes. The rules (docs/ecs.md, "Task definitions as
code"), checked against what moto and the ECS API reference return:

- only the fields RegisterTaskDefinition takes count; ``tags`` only when the
  file has tags (the file is then the whole truth about them);
- an empty list or mapping, and null, equal a missing key (``volumes: []``,
  ``mountPoints``, ``volumesFrom``, ``placementConstraints``, ``systemControls``);
- container defaults: ``cpu: 0``, ``essential: true``; a port mapping's
  ``protocol: tcp`` and a ``hostPort`` equal to its ``containerPort`` (awsvpc and
  host networking) or 0 (bridge: a dynamic port); a health check's ``interval:
  30``, ``timeout: 5``, ``retries: 3``, ``startPeriod: 0``;
- ``enableFaultInjection: false``; task ``cpu``/``memory`` compare as strings;
- ``environment`` and ``secrets`` compare sorted by name.

The diff is ecspresso's: ``-``/``+`` lines on the JSON, current revision first.
Environment values are never shown (a value may be a secret, as the
``environment`` input's change lines never show one): an unchanged value is
``***``, a changed one ``*** (changed)``, a new one ``*** (new)``. ``secrets``
show ``valueFrom``, an ARN.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

from opskit.ecs.taskfile_schema import format_path

_HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
_BY_NAME = ("environment", "secrets")
MASK = "***"


def normalize(definition: dict[str, Any], fields: tuple[str, ...], *, tags: bool) -> dict[str, Any]:
    """``definition`` as it compares: registrable ``fields`` only, defaults dropped."""
    keep = set(fields) | ({"tags"} if tags else set())
    result = {k: copy.deepcopy(v) for k, v in definition.items() if k in keep}
    for key in ("cpu", "memory"):
        if isinstance(result.get(key), int):
            result[key] = str(result[key])
    if result.get("enableFaultInjection") is False:
        del result["enableFaultInjection"]
    mode = result.get("networkMode") or "bridge"
    for container in result.get("containerDefinitions") or []:
        _container(container, mode)
    return _prune(result)


def _container(container: dict[str, Any], mode: str) -> None:
    if container.get("cpu") == 0:
        del container["cpu"]
    if container.get("essential") is True:
        del container["essential"]
    for mapping in container.get("portMappings") or []:
        if mapping.get("protocol") == "tcp":
            del mapping["protocol"]
        default_host = 0 if mode == "bridge" else mapping.get("containerPort")
        if "hostPort" in mapping and mapping["hostPort"] == default_host:
            del mapping["hostPort"]
    health = container.get("healthCheck") or {}
    for key, default in _HEALTH_DEFAULTS.items():
        if health.get(key) == default:
            del health[key]
    for key in _BY_NAME:
        if container.get(key):
            container[key] = sorted(container[key], key=lambda e: str(e.get("name", "")))


def _prune(value: Any) -> Any:
    """Empty lists and mappings and nulls removed, recursively."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def mismatches(asked: Any, got: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """The paths where ``got`` (normalized) does not hold ``asked``: missing or changed."""
    if isinstance(asked, dict) and isinstance(got, dict):
        found = []
        for key in sorted(set(asked) | set(got), key=str):
            where = (*path, key)
            if key not in got:
                found.append(f"{format_path(where)} missing")
            elif key not in asked:
                found.append(f"{format_path(where)} added")
            else:
                found += mismatches(asked[key], got[key], where)
        return found
    if isinstance(asked, list) and isinstance(got, list) and len(asked) == len(got):
        pairs = enumerate(zip(asked, got, strict=True))
        return [m for i, (a, g) in pairs for m in mismatches(a, g, (*path, i))]
    return [] if asked == got else [f"{format_path(path) or 'the definition'} changed"]


def _masked(current: dict[str, Any], wanted: dict[str, Any]) -> tuple[Any, Any]:
    """Both sides with environment values hidden; a changed value says so."""
    current, wanted = copy.deepcopy(current), copy.deepcopy(wanted)
    before = {
        (c.get("name"), e.get("name")): e.get("value")
        for c in current.get("containerDefinitions") or []
        for e in c.get("environment") or []
    }
    for container in current.get("containerDefinitions") or []:
        for entry in container.get("environment") or []:
            if "value" in entry:
                entry["value"] = MASK
    for container in wanted.get("containerDefinitions") or []:
        for entry in container.get("environment") or []:
            if "value" in entry:
                key = (container.get("name"), entry.get("name"))
                if key not in before:
                    entry["value"] = f"{MASK} (new)"
                else:
                    entry["value"] = MASK if before[key] == entry["value"] else f"{MASK} (changed)"
    return current, wanted


def diff_lines(
    current: dict[str, Any], wanted: dict[str, Any], names: tuple[str, str]
) -> list[str]:
    """ecspresso-style unified diff of the two normalized definitions; [] when equal."""
    if current == wanted:
        return []
    shown = _masked(current, wanted)
    old, new = (json.dumps(side, indent=2, sort_keys=True).splitlines() for side in shown)
    lines = list(difflib.unified_diff(old, new, names[0], names[1], n=2, lineterm=""))
    return lines or [f"--- {names[0]}", f"+++ {names[1]}", "(environment values differ)"]
