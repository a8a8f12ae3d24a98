"""Benchmark: ``streamlit.session`` beside a headless Chromium driving the same page.

One command from a clean checkout (``pip install -e '.[test,bench]'``)::

    python benchmarks/bench_streamlit_session.py            # 3 rounds
    python benchmarks/bench_streamlit_session.py --rounds 5

It starts the bundled chatbot on loopback (local responder, its default stream
delay: the answer streams word by word for about a second and a half) and asks
it "How do I redeploy the service?" both ways, alternating, each round:

- opskit: ``opskit run`` on a generated playbook with the ``streamlit.session``
  step, in its own process (cold start: interpreter, imports, session, verdict);
  and the same question through ``opskit.streamlit`` in this process (warm: from
  sending the question to the verdict, and the verdict's lag behind the answer's
  last text);
- browser: a Playwright script in its own process that launches the
  distribution's ``chromium`` headless (``executable_path``, nothing downloaded),
  opens the page, types the question into the chat input, and waits until both
  answer columns show their "done in" footer (or an error): the fastest
  condition a browser check of this app can wait for. A MutationObserver stamps
  the answer's last text change, in the page's own clock.

Peak memory is the largest sum of RSS over the client's process tree (for the
browser: the Python driver, Playwright's node driver and every Chromium
process), sampled every 20 ms from /proc. Chromium is installed with apt-get
when missing (as root); without it or without Playwright the browser half is
skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from streamlit_app import (  # benchmarks/ is the script's folder
    LOCAL_APP_ENV,
    start_streamlit,
    stop,
)

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "opskit" / "stack" / "src" / "chatbot_app.py"
QUESTION = "How do I redeploy the service?"
EXPECT = "new ECS deployment"

BROWSER_SCRIPT = r"""
import json, sys, time
t0 = time.time()
from playwright.sync_api import sync_playwright

url, question, chromium = sys.argv[1], sys.argv[2], sys.argv[3]
OBSERVE = '''() => {
  window.__lastText = performance.now();
  new MutationObserver(() => { window.__lastText = performance.now(); })
    .observe(document.querySelector('[data-testid="stMain"]') || document.body,
             {subtree: true, childList: true, characterData: true});
  return performance.now();
}'''
DONE = '''() => {
  const turns = document.querySelectorAll('[data-testid="stChatMessage"]');
  if (turns.length < 2) return false;
  const answer = turns[turns.length - 1];
  const footers = Array.from(answer.querySelectorAll('[data-testid="stCaptionContainer"]'))
    .filter(c => c.innerText.includes('done in'));
  const errors = answer.querySelectorAll('[data-testid="stAlertContentError"]');
  return footers.length + errors.length >= 2;
}'''
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True)
    page = browser.new_page()
    page.goto(url)
    box = page.wait_for_selector('[data-testid="stChatInput"] textarea', timeout=60000)
    box.fill(question)
    sent = page.evaluate(OBSERVE)
    page.keyboard.press("Enter")
    page.wait_for_function(DONE, timeout=60000, polling="raf")
    answer = page.locator('[data-testid="stChatMessage"]').last.inner_text()
    errors = page.locator('[data-testid="stAlertContentError"]').count()
    verdict = page.evaluate("performance.now()")
    last_text = page.evaluate("window.__lastText")
    verdict_at = time.time()
    print(json.dumps({
        "started": t0, "verdict_at": verdict_at,
        "ok": errors == 0 and "new ECS deployment" in answer,
        "question_to_verdict": (verdict - sent) / 1000, "lag": (verdict - last_text) / 1000,
        "chars": len(answer),
    }), flush=True)
    browser.close()
"""


# --- memory of a process tree ------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class TreeMemory:
    """Peak of the summed RSS of ``pid`` and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree, pids, total = _children(), [self.pid], 0
            while pids:
                pid = pids.pop()
                total += _rss_kib(pid)
                pids.extend(tree.get(pid, []))
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


# --- the app -----------------------------------------------------------------------------


def start_app(log: Path, stream_delay: str | None) -> tuple[subprocess.Popen[bytes], str]:
    env = dict(LOCAL_APP_ENV)
    if stream_delay is not None:
        env["CHATBOT_LOCAL_STREAM_DELAY"] = stream_delay
    return start_streamlit(sys.executable, APP, log, env=env, timeout=60)


# --- the two clients ---------------------------------------------------------------------


def opskit_cold(url: str, folder: Path) -> dict[str, Any]:
    playbook = folder / "session.yaml"
    step = {
        "id": "chat",
        "uses": "streamlit.session",
        "timeout": "60s",
        "with": {"url": url, "ask": [{"question": QUESTION, "expect": [EXPECT]}]},
    }
    playbook.write_text(json.dumps({"name": "bench", "steps": [step]}))
    report = folder / "report"
    command = [sys.executable, "-m", "opskit", "run", str(playbook), "--output", "json"]
    command += ["--report", str(report)]
    started = time.time()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    memory = TreeMemory(process.pid)
    out, _ = process.communicate(timeout=120)
    peak = memory.stop()
    ends = [json.loads(line) for line in out.splitlines() if '"step_end"' in line]
    verdict_at = ends[0]["ts"] if ends else time.time()
    (answer,) = json.loads((report / "report.json").read_text())["steps"][0]["outputs"]["answers"]
    return {
        "cold": verdict_at - started,
        "startup": verdict_at - started - answer["total_ms"] / 1000,
        "ok": process.returncode == 0,
        "memory": peak,
    }


def opskit_warm(url: str) -> dict[str, Any]:
    from opskit.clock import Clock, Deadline
    from opskit.streamlit import StreamlitSession

    last_text: list[float] = []
    with StreamlitSession(url, Deadline.after(Clock(), 60), threading.Event()) as tab:
        tab.load()
        (chat_input,) = tab.page.chat_inputs()
        sent = time.perf_counter()
        outcome = tab.ask(
            QUESTION, chat_input, on_text=lambda _: last_text.append(time.perf_counter())
        )
        ok = EXPECT in outcome.answer and not tab.page.errors() and not tab.page.exceptions()
        verdict = time.perf_counter()
    return {"question_to_verdict": verdict - sent, "lag": verdict - last_text[-1], "ok": ok}


def browser_run(url: str, chromium: str, folder: Path) -> dict[str, Any]:
    script = folder / "browser_check.py"
    script.write_text(BROWSER_SCRIPT)
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, str(script), url, QUESTION, chromium],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = TreeMemory(process.pid)
    out, err = process.communicate(timeout=180)
    peak = memory.stop()
    if process.returncode != 0 or not out.strip():
        raise RuntimeError(f"the browser check failed: {err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "cold": result["verdict_at"] - started,
        "startup": result["verdict_at"] - started - result["question_to_verdict"],
        "question_to_verdict": result["question_to_verdict"],
        "lag": result["lag"],
        "ok": result["ok"],
        "memory": peak,
    }


def find_chromium(install: bool) -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("installing chromium with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    subprocess.run(["apt-get", "update", "-q"], check=False, **quiet)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, **quiet)
    return shutil.which("chromium")


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-install", action="store_true", help="never apt-get chromium")
    args = parser.parse_args()

    chromium = find_chromium(not args.no_install)
    try:
        import playwright  # noqa: F401
    except ImportError:
        chromium = None
        print("skipping the browser: Playwright is not installed (pip install -e '.[bench]')")
    if chromium is None:
        print("skipping the browser: no chromium (apt-get install chromium)")

    with tempfile.TemporaryDirectory(prefix="bench-streamlit-") as name:
        folder = Path(name)
        instant_app, instant = start_app(folder / "instant.log", "0")
        streaming_app, streaming = start_app(folder / "streaming.log", None)
        runs: dict[str, list[dict[str, Any]]] = {
            "cold_instant": [],
            "cold_streaming": [],
            "warm": [],
            "browser_instant": [],
            "browser_streaming": [],
        }
        try:
            for url in (instant, streaming):
                opskit_warm(url)  # the app's first run (its cached backend) is nobody's cost
            for round_ in range(1, args.rounds + 1):
                runs["cold_instant"].append(opskit_cold(instant, folder))
                runs["cold_streaming"].append(opskit_cold(streaming, folder))
                runs["warm"].append(opskit_warm(streaming))
                if chromium:
                    runs["browser_instant"].append(browser_run(instant, chromium, folder))
                    runs["browser_streaming"].append(browser_run(streaming, chromium, folder))
                print(
                    f"round {round_}: "
                    + ", ".join(
                        f"{name} {rows[-1].get('cold', rows[-1].get('question_to_verdict')):.2f} s"
                        for name, rows in runs.items()
                        if rows
                    ),
                    flush=True,
                )
        finally:
            stop(instant_app)
            stop(streaming_app)

    verdicts_ok = all(r["ok"] for rows in runs.values() for r in rows)
    browser = bool(runs["browser_streaming"])
    print()
    print(f"medians of {args.rounds} rounds (every verdict right: {verdicts_ok})")
    print()
    print("| | opskit `streamlit.session` | headless Chromium (Playwright) | browser / opskit |")
    print("| --- | --- | --- | --- |")

    def row(label: str, mine: str, theirs: str, key: str, unit: str, scale: float = 1) -> None:
        fmt = {"s": ".2f", "ms": ".1f", "MiB": ".0f"}[unit]
        value = median(runs[mine], key) * scale
        if not browser:
            print(f"| {label} | {value:{fmt}} {unit} | skipped | – |")
            return
        peer = median(runs[theirs], key) * scale
        print(f"| {label} | {value:{fmt}} {unit} | {peer:{fmt}} {unit} | {peer / value:.1f}× |")

    row("cold start → verdict, instant answer", "cold_instant", "browser_instant", "cold", "s")
    row(
        "cold start → verdict, streamed answer (~1.5 s)",
        "cold_streaming",
        "browser_streaming",
        "cold",
        "s",
    )
    row("start-up before the question", "cold_streaming", "browser_streaming", "startup", "s")
    row(
        "question → verdict, streamed answer",
        "warm",
        "browser_streaming",
        "question_to_verdict",
        "s",
    )
    row(
        "verdict after the answer's last text",
        "warm",
        "browser_streaming",
        "lag",
        "ms",
        scale=1000,
    )
    row("peak memory (process tree)", "cold_streaming", "browser_streaming", "memory", "MiB")
    return 0 if verdicts_ok else 1


if __name__ == "__main__":
    sys.exit(main())
