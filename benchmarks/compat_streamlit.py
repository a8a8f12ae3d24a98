"""Run ``streamlit.session`` against other Streamlit releases, each in its own venv.

    python benchmarks/compat_streamlit.py [--versions 1.42.2 1.43.0] [--cache DIR]

The installed Streamlit (the test extra) is the newest; the chat input's value
travels in another field before 1.43, so an older server is checked for real:
for each version a venv is built once under ``--cache`` (``pip install
streamlit==V boto3``), and two servers are started from it on loopback — the
bundled chatbot (local responder) and the test suite's echo app under a base
path. ``opskit run`` (this interpreter's opskit, not the venv's) then asks each a
question through a generated playbook. One line per version and app, and a
Markdown table for docs/streamlit.md. Exit 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from streamlit_app import (  # benchmarks/ is the script's folder
    LOCAL_APP_ENV,
    start_streamlit,
    stop,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_APP = ROOT / "opskit" / "stack" / "src" / "chatbot_app.py"
ECHO_APP = ROOT / "tests" / "streamlit" / "apps" / "main.py"
DIGEST = "c0ffee" + "0" * 58


def venv_for(version: str, cache: Path) -> Path:
    venv = cache / f"streamlit-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.is_file():
        return python
    print(f"building {venv} (streamlit=={version}, boto3) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        + [f"streamlit=={version}", "boto3"],
        check=True,
    )
    marker.write_text(version)
    return python


def start(
    python: Path, script: Path, log: Path, base_path: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    env = {**LOCAL_APP_ENV, "CHATBOT_LOCAL_STREAM_DELAY": "0.002", "CHATBOT_RELEASE_DIGEST": DIGEST}
    return start_streamlit(python, script, log, env=env, base_path=base_path)


def playbook(bundled_url: str, echo_url: str) -> dict:
    return {
        "name": "Streamlit compatibility",
        "steps": [
            {
                "id": "bundled",
                "uses": "streamlit.session",
                "continue_on_error": True,
                "timeout": "60s",
                "with": {
                    "url": bundled_url,
                    "ask": [
                        {
                            "question": "How do I redeploy the service?",
                            "expect": ["new ECS deployment"],
                            "forbid": ["re:(?i)traceback"],
                        },
                        {"question": "hello", "expect": ["Hello!"]},
                    ],
                    "expect_page": [f"release {DIGEST[:12]}"],
                },
            },
            {
                "id": "echo",
                "uses": "streamlit.session",
                "continue_on_error": True,
                "timeout": "60s",
                "with": {
                    "url": f"{echo_url}/?app=echo",
                    "ask": [{"question": "compat?", "expect": ["You asked compat?"]}],
                    "expect_page": ["release test-1"],
                },
            },
        ],
    }


def check(version: str, cache: Path, work: Path) -> list[dict]:
    python = venv_for(version, cache)
    servers = []
    try:
        bundled, bundled_url = start(python, BUNDLED_APP, work / f"bundled-{version}.log")
        servers.append(bundled)
        echo, echo_url = start(python, ECHO_APP, work / f"echo-{version}.log", base_path="chat")
        servers.append(echo)
        path = work / f"compat-{version}.yaml"
        path.write_text(json.dumps(playbook(bundled_url, echo_url), indent=1))
        report = work / f"report-{version}"
        subprocess.run(
            [sys.executable, "-m", "opskit", "run", str(path), "--report", str(report)],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        steps = json.loads((report / "report.json").read_text())["steps"]
    finally:
        for process in servers:
            stop(process)
    return [
        {
            "version": version,
            "app": step["id"],
            "status": step["status"],
            "server": (step.get("outputs") or {}).get("streamlit_version"),
            "summary": step["summary"],
        }
        for step in steps
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", nargs="+", default=["1.42.2", "1.43.0"])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "opskit-compat",
        help="where the venvs are kept between runs",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="opskit-compat-") as folder:
        for version in args.versions:
            for row in check(version, args.cache, Path(folder)):
                rows.append(row)
                print(f"{row['version']:>8} {row['app']:<8} {row['status']:<7} {row['summary']}")
    print()
    print("| Streamlit | app | result | summary |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        summary = row["summary"].replace("|", "\\|")
        print(f"| {row['server'] or row['version']} | {row['app']} | {row['status']} | {summary} |")
    return 0 if all(row["status"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
