"""Benchmark: opskit's ecs.redeploy against aws ecs wait services-stable and ecs-deploy.

One command from a clean checkout::

    python benchmarks/bench_ecs_redeploy.py
    python benchmarks/bench_ecs_redeploy.py --scenarios healthy,rollback --tools opskit,aws

moto's server runs on loopback inside this process, so a scenario thread can
play the deployment that each tool's ``UpdateService`` created (see
``ecs_scenarios.py``): a healthy rollout; a circuit-breaker rollback; a crash
loop; a rollout that completes while the new task logs the incident's error.
Each tool runs as a user runs it, in its own process, against the endpoint:

- ``opskit run`` on a generated playbook: ``ecs.redeploy`` then ``logs.wait``
  with the redeploy playbook's failure patterns (the same playbook in every
  scenario);
- ``aws ecs update-service --force-new-deployment`` then ``aws ecs wait
  services-stable`` (awscli from ``benchmarks/.peers/venv``, as the S3 benchmark);
- ``ecs deploy CLUSTER SERVICE --timeout 60 --force-new-deployment`` from the
  ``ecs-deploy`` package, in its own venv ``benchmarks/.peers/ecs-deploy-venv``
  (it pulls boto3/botocore; the awscli venv is left as the S3 benchmark made
  it). It has no endpoint flag; boto3 reads ``AWS_ENDPOINT_URL``.

Every run starts from a reset moto and a settled service (one RUNNING old task)
and is capped (``--cap``, 120 s): a tool still running then is "still waiting".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / ".peers"
DATA = HERE / ".data" / "ecs"
TOOLS = ("opskit", "aws", "ecs-deploy")
SCENARIOS = {
    "healthy": "healthy",
    "rollback": "circuit breaker rolled the deployment back",
    "crash-loop": "new tasks crash-loop",
    "error-in-logs": "the new task logs the incident's error",
    # Not run by default: the rollback, but ECS keeps the failed deployment listed.
    "rollback-listed": "rolled back, the failed deployment still listed",
}
DEFAULT_SCENARIOS = ("healthy", "rollback", "crash-loop", "error-in-logs")
# What the message must carry for each failing scenario (all of them).
REASONS = {
    "rollback": ("rolling back to deploymentId",),
    "rollback-listed": ("rolling back to deploymentId",),
    "crash-loop": ("Essential container in task exited", "exit code 1"),
    "error-in-logs": ("list_foundation_models",),
}
FAILURE_PATTERNS = ["Traceback", "has no attribute", "NameError", "SyntaxError"]
PLAYBOOK = """\
name: benchmark ecs.redeploy
default_target: bench
targets:
  bench:
    aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}
steps:
  - id: redeploy
    uses: ecs.redeploy
    with: {{cluster: chatbot, service: chatbot, poll_interval: 1s}}
    timeout: 120s
  - id: logs
    uses: logs.wait
    with:
      log_group: /ecs/chatbot
      task_ids: "{{{{ steps.redeploy.outputs.new_task_ids }}}}"
      failure: {failure}
      poll_interval: 1s
    timeout: 30s
"""
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_COLOR": "1",
}


def ensure_project_python() -> None:
    """Prefer the project's venv (opskit's dependencies and moto); else this Python."""
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        sys.exit("needs opskit's dependencies and moto[server]: pip install -e '.[bench]' first")


def ensure_peers(tools: list[str]) -> dict[str, Path]:
    """Peer executables, installed on first use into venvs under benchmarks/.peers/."""
    found: dict[str, Path] = {}
    if "aws" in tools:
        aws = PEERS / "venv" / "bin" / "aws"
        if not aws.exists():
            print("installing awscli into benchmarks/.peers/venv ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(PEERS / "venv")], check=True)
            subprocess.run([str(aws.parent / "pip"), "install", "-q", "awscli"], check=True)
        found["aws"] = aws
    if "ecs-deploy" in tools:
        ecs = PEERS / "ecs-deploy-venv" / "bin" / "ecs"
        if not ecs.exists():
            print("installing ecs-deploy into benchmarks/.peers/ecs-deploy-venv ...", flush=True)
            venv = PEERS / "ecs-deploy-venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(ecs.parent / "pip"), "install", "-q", "ecs-deploy"], check=True)
        found["ecs-deploy"] = ecs
    return found


@dataclass
class Outcome:
    verdict: str  # pass | fail | still waiting
    seconds: float
    output: str  # what the user saw (stdout + stderr)
    message: str  # the failure message that carries the reason (opskit: the failed step's)


def commands(tool: str, endpoint: str, peers: dict[str, Path], run_dir: Path) -> list[list[str]]:
    if tool == "opskit":
        playbook = run_dir / "playbook.yaml"
        playbook.write_text(
            PLAYBOOK.format(endpoint=endpoint, failure=json.dumps(FAILURE_PATTERNS))
        )
        report = run_dir / "report"
        return [
            [sys.executable, "-m", "opskit", "run", str(playbook), "--yes", "--report", str(report)]
        ]
    if tool == "aws":
        aws, where = str(peers["aws"]), ["--endpoint-url", endpoint]
        return [
            [aws, "ecs", "update-service", "--cluster", "chatbot", "--service", "chatbot",
             "--force-new-deployment", "--query", "service.deployments[0].id", *where],
            [aws, "ecs", "wait", "services-stable", "--cluster", "chatbot",
             "--services", "chatbot", *where],
        ]  # fmt: skip
    return [
        [str(peers["ecs-deploy"]), "deploy", "chatbot", "chatbot", "--timeout", "60",
         "--force-new-deployment"],
    ]  # fmt: skip


def run_tool(argvs: list[list[str]], env: dict[str, str], cap: float) -> Outcome:
    """Run the commands one after another, as a user would, within ``cap`` seconds."""
    started = time.perf_counter()
    output: list[str] = []
    for argv in argvs:
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the whole tool is stopped at the cap
            cwd=REPO,
        )
        left = cap - (time.perf_counter() - started)
        try:
            out, _ = process.communicate(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            out, _ = process.communicate(timeout=10)
            output.append(out)
            return Outcome("still waiting", cap, "".join(output), "")
        output.append(out)
        if process.returncode != 0:
            elapsed = time.perf_counter() - started
            return Outcome("fail", elapsed, "".join(output), "")
    return Outcome("pass", time.perf_counter() - started, "".join(output), "")


def opskit_message(run_dir: Path) -> str:
    """The failed step's summary and detail from ``report.json`` (what the report shows)."""
    path = run_dir / "report" / "report.json"
    if not path.exists():
        return ""
    report = json.loads(path.read_text())
    failed = [s for s in report.get("steps", []) if s.get("status") in ("failed", "error")]
    return "\n".join(f"{s['id']}: {s['summary']}\n{s['detail']}" for s in failed)


def carries_reason(scenario: str, text: str) -> bool | None:
    wanted = REASONS.get(scenario)
    if wanted is None:
        return None
    return all(piece in text for piece in wanted)


def reset_moto() -> None:
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


def start_moto() -> tuple[object, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def run_all(scenarios: list[str], tools: list[str], cap: float) -> dict[tuple[str, str], dict]:
    import boto3

    sys.path.insert(0, str(REPO))
    from ecs_scenarios import Rollout, create_stack

    peers = ensure_peers(tools)
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    server, endpoint = start_moto()
    session = boto3.session.Session(
        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    cache: dict[str, object] = {}

    def clients(name: str):
        if name not in cache:
            cache[name] = session.client(name, endpoint_url=endpoint)
        return cache[name]

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(DATA / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(DATA / "no-aws-credentials"),
        "XDG_CACHE_HOME": str(DATA / "cache"),
        "XDG_STATE_HOME": str(DATA / "state"),
    }
    results: dict[tuple[str, str], dict] = {}
    try:
        for scenario in scenarios:
            for tool in tools:
                reset_moto()
                records = create_stack(clients)
                rollout = Rollout(records, clients, scenario)
                run_dir = DATA / f"{scenario}-{tool}"
                run_dir.mkdir()
                rollout.start()
                try:
                    outcome = run_tool(commands(tool, endpoint, peers, run_dir), env, cap)
                finally:
                    rollout.finish()
                    records.uninstall_quietly()
                (run_dir / "output.txt").write_text(outcome.output)
                message = opskit_message(run_dir) if tool == "opskit" else outcome.output
                results[(scenario, tool)] = {
                    "verdict": outcome.verdict,
                    "seconds": outcome.seconds,
                    "right": outcome.verdict == ("pass" if scenario == "healthy" else "fail"),
                    "reason": carries_reason(scenario, message),
                    "reason_live": carries_reason(scenario, outcome.output),
                    "deployment": rollout.deployment_id,
                    "player_error": rollout.error,
                    "last_line": last_line(message or outcome.output),
                }
                print_progress(scenario, tool, results[(scenario, tool)])
    finally:
        server.stop()
    return results


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:160] if lines else ""


def print_progress(scenario: str, tool: str, row: dict) -> None:
    note = "" if row["deployment"] else " (no new deployment appeared)"
    if row["player_error"]:
        note += f" (scenario player failed: {row['player_error']})"
    print(
        f"{scenario:>13} {tool:>10}: {row['verdict']} at {row['seconds']:.1f} s"
        f"{note}\n{'':>26}{row['last_line']}",
        flush=True,
    )


def cell(row: dict, cap: float) -> str:
    if row["verdict"] == "still waiting":
        text = f"still waiting at {cap:.0f} s"
    else:
        text = f"{'passes' if row['verdict'] == 'pass' else 'fails'} at {row['seconds']:.1f} s"
    text += ", right" if row["right"] else ", **wrong**"
    if row["reason"] is not None and row["verdict"] == "fail":
        if row["reason"]:
            text += ", reason shown"
        elif row["reason_live"]:
            text += ", reason only in the live view (not in the failure message)"
        else:
            text += ", no reason"
    return text


def table(scenarios: list[str], tools: list[str], results: dict, cap: float) -> str:
    heads = {
        "opskit": "`opskit run` (ecs.redeploy + logs.wait)",
        "aws": "`aws ecs update-service --force-new-deployment` + `aws ecs wait services-stable`",
        "ecs-deploy": "`ecs deploy --timeout 60 --force-new-deployment` (ecs-deploy)",
    }
    lines = [
        "| scenario | " + " | ".join(heads[t] for t in tools) + " |",
        "| --- |" + " --- |" * len(tools),
    ]
    for scenario in scenarios:
        cells = [cell(results[(scenario, t)], cap) for t in tools]
        lines.append(f"| {SCENARIOS[scenario]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def selected(text: str, known: tuple[str, ...] | dict, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help="of " + ", ".join(SCENARIOS) + " (default: all but rollback-listed)",
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="of " + ", ".join(TOOLS))
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per tool run")
    args = parser.parse_args()
    scenarios = selected(args.scenarios, SCENARIOS, "scenario(s)")
    tools = selected(args.tools, TOOLS, "tool(s)")
    ensure_project_python()
    started = time.perf_counter()
    results = run_all(scenarios, tools, args.cap)
    print(
        f"\nECS forced redeploy against moto on loopback ({platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}); time from the tool's start "
        f"to its verdict, capped at {args.cap:.0f} s; total {time.perf_counter() - started:.0f} s\n"
    )
    print(table(scenarios, tools, results, args.cap))


if __name__ == "__main__":
    main()
