"""The container entrypoint against moto's S3: fetch, verify, preflight, serve."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from core import markers
from stack_fakes import ENTRYPOINT, SRC_DIR

from opskit.clock import Clock, Deadline
from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry, file_sha256
from opskit.streamlit import StreamlitSession

BUCKET = "chatbot-code"
PREFIX = "src/"


def load_entrypoint():
    spec = importlib.util.spec_from_file_location("stack_entrypoint", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def release_tree(tmp_path: Path) -> Path:
    """A copy of the bundled app, as ``s3.sync`` would upload it."""
    tree = tmp_path / "release"
    shutil.copytree(SRC_DIR, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tree


def upload(s3, tree: Path, prefix: str = PREFIX) -> str:
    """Upload ``tree`` and its manifest (built with opskit/manifest.py); return the digest."""
    entries = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        relative = path.relative_to(tree).as_posix()
        s3.put_object(Bucket=BUCKET, Key=prefix + relative, Body=path.read_bytes())
        entries.append(ManifestEntry(relative, path.stat().st_size, file_sha256(path)))
    manifest = Manifest(entries, generator="tests")
    s3.put_object(Bucket=BUCKET, Key=prefix + MANIFEST_NAME, Body=manifest.to_json().encode())
    return manifest.digest


@pytest.fixture
def s3(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return tmp_path / "app"


def run_entrypoint(app_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)  # fake credentials, AWS_ENDPOINT_URL from the fixtures
    environment.update(
        CODE_BUCKET=BUCKET,
        APP_DIR=str(app_dir),
        CHATBOT_INSTALL_REQUIREMENTS="0",
        CHATBOT_MODEL_PROVIDER="local",
        CHATBOT_ENTRYPOINT_DRY_RUN="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_good_upload_is_verified_and_passes_the_preflight(s3, tmp_path, app_dir) -> None:
    tree = release_tree(tmp_path)
    digest = upload(s3, tree)
    result = run_entrypoint(app_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    expected = [
        f"INFO entrypoint: code digest {digest} verified",
        "INFO entrypoint: CHATBOT_INSTALL_REQUIREMENTS=0: not installing requirements",
        "INFO chatbot.preflight: Model provider: local responder (no Bedrock)",
        "INFO chatbot.aws_clients: Bedrock Runtime health check passed (client has "
        "converse_stream, invoke_model; no request needed; region us-east-1)",
        "INFO chatbot.preflight: Preflight passed",
    ]
    assert [line for line in lines if line in expected] == expected
    assert lines[-1].startswith("INFO entrypoint: dry run: not starting Streamlit (would run: ")
    assert "--server.scriptHealthCheckEnabled=true" in lines[-1]
    everything = result.stdout + result.stderr
    assert not [word for word in markers.FAILURE_WORDS if word in everything]
    downloaded = sorted(p.relative_to(app_dir / "src") for p in (app_dir / "src").rglob("*"))
    assert downloaded == sorted(p.relative_to(tree) for p in tree.rglob("*"))
    assert (app_dir / "src/core/aws_clients.py").read_bytes() == (
        tree / "core/aws_clients.py"
    ).read_bytes()


def test_a_tampered_file_is_refused_by_name(s3, tmp_path, app_dir) -> None:
    upload(s3, release_tree(tmp_path))
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "core/aws_clients.py", Body=b"print('changed')\n")
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "ERROR entrypoint: core/aws_clients.py does not match the manifest: 17 bytes, expected "
    )
    assert result.stderr.splitlines()[-1].endswith(f"(s3://{BUCKET}/src/core/aws_clients.py)")
    assert "verified" not in result.stdout
    assert not (app_dir / "src").exists()  # nothing half-downloaded is left to run


def test_a_same_size_tampered_file_is_refused_by_its_sha256(s3, tmp_path, app_dir) -> None:
    tree = release_tree(tmp_path)
    upload(s3, tree)
    original = (tree / "requirements.txt").read_bytes()
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "requirements.txt", Body=original.upper())
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert "ERROR entrypoint: requirements.txt does not match the manifest: sha256 " in (
        result.stderr
    )


def test_a_missing_manifest_is_refused_with_a_clear_message(s3, app_dir) -> None:
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "chatbot_app.py", Body=b"print('hi')\n")
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert result.stderr == (
        f"ERROR entrypoint: no .opskit-manifest.json under s3://{BUCKET}/src/ "
        "— upload with opskit s3.sync\n"
    )


def test_a_file_listed_but_missing_is_refused_by_name(s3, tmp_path, app_dir) -> None:
    upload(s3, release_tree(tmp_path))
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + "core/markers.py")
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ERROR entrypoint: core/markers.py is listed in the manifest but missing from "
        f"s3://{BUCKET}/src/core/markers.py"
    )


def test_a_missing_bucket_and_a_missing_setting_are_one_line_each(s3, app_dir) -> None:
    result = run_entrypoint(app_dir, CODE_BUCKET="no-such-bucket")
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR entrypoint: bucket no-such-bucket does not exist "
        "(reading s3://no-such-bucket/src/.opskit-manifest.json)\n"
    )
    result = run_entrypoint(app_dir, CODE_BUCKET="")
    assert (result.returncode, result.stderr) == (
        1,
        "ERROR entrypoint: CODE_BUCKET is not set: name the bucket that holds src/\n",
    )


def test_files_of_an_earlier_release_are_removed(s3, tmp_path, app_dir) -> None:
    (app_dir / "src/core").mkdir(parents=True)
    (app_dir / "src/core/stale.py").write_text("raise SystemExit('old release')\n")
    upload(s3, release_tree(tmp_path))
    result = run_entrypoint(app_dir)
    assert result.returncode == 0, result.stderr
    assert not (app_dir / "src/core/stale.py").exists()


def test_a_syntax_error_fails_the_preflight_with_its_traceback(s3, tmp_path, app_dir) -> None:
    tree = release_tree(tmp_path)
    with open(tree / "chatbot_app.py", "a") as script:
        script.write("\ndef broken(:\n")
    upload(s3, tree)
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "SyntaxError: invalid syntax" in result.stderr
    assert (
        "ERROR chatbot.preflight: Preflight failed: chatbot_app.py does not import (SyntaxError"
        in result.stdout
    )
    assert result.stderr.splitlines()[-1] == (
        "ERROR entrypoint: preflight failed (exit 1): not starting the app; see the lines above"
    )


def test_the_incidents_health_check_fails_the_preflight(s3, tmp_path, app_dir) -> None:
    # Replays the incident: the bedrock-runtime row asks for list_foundation_models.
    tree = release_tree(tmp_path)
    clients = tree / "core/aws_clients.py"
    good_row = (
        '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream", "InvokeModel")),'
    )
    bad_row = (
        '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream",), '
        'probe="ListFoundationModels"),'
    )
    source = clients.read_text()
    assert good_row in source
    clients.write_text(source.replace(good_row, bad_row))
    upload(s3, tree)
    result = run_entrypoint(app_dir)
    assert result.returncode == 1
    assert (
        "ERROR chatbot.aws_clients: Bedrock Runtime health check failed: "
        "'BedrockRuntime' object has no attribute 'list_foundation_models'"
    ) in result.stdout.splitlines()
    assert "Bedrock Runtime health check passed" not in result.stdout


def test_the_entrypoint_imports_only_the_standard_library_and_boto3() -> None:
    tree = ast.parse(ENTRYPOINT.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"boto3", "botocore"}


def test_the_entrypoint_markers_are_the_apps_markers() -> None:
    entrypoint = load_entrypoint()
    assert entrypoint.CODE_DIGEST_VERIFIED == markers.CODE_DIGEST_VERIFIED
    assert entrypoint.STARTING_STREAMLIT == markers.STARTING_STREAMLIT


def test_the_entrypoint_reads_manifests_as_opskit_writes_them() -> None:
    entrypoint = load_entrypoint()
    entries = [
        ManifestEntry("é/a.py", 3, "a" * 64),
        ManifestEntry("b.txt", 0, "b" * 64),
        ManifestEntry("Z.py", 10, "c" * 64),
    ]
    manifest = Manifest(entries, generator="tests")
    digest, files = entrypoint.parse_manifest(manifest.to_json().encode(), "m")
    assert digest == manifest.digest
    assert [f.path for f in files] == ["Z.py", "b.txt", "é/a.py"]  # by UTF-8 bytes
    with pytest.raises(entrypoint.EntrypointError, match="does not match its file list"):
        entrypoint.parse_manifest(manifest.to_json().replace("a" * 64, "d" * 64).encode(), "m")
    unsafe = Manifest([ManifestEntry("../etc/passwd", 1, "a" * 64)])
    with pytest.raises(entrypoint.EntrypointError, match="lists an unsafe path '../etc/passwd'"):
        entrypoint.parse_manifest(unsafe.to_json().encode(), "m")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_the_entrypoint_starts_streamlit_with_the_script_health_check(
    s3, tmp_path, app_dir
) -> None:
    digest = upload(s3, release_tree(tmp_path))
    port = free_port()
    environment = dict(os.environ)
    environment.update(
        CODE_BUCKET=BUCKET,
        APP_DIR=str(app_dir),
        CHATBOT_INSTALL_REQUIREMENTS="0",
        CHATBOT_MODEL_PROVIDER="local",
        PYTHONDONTWRITEBYTECODE="1",
        STREAMLIT_SERVER_PORT=str(port),
        STREAMLIT_SERVER_ADDRESS="127.0.0.1",
    )
    log = tmp_path / "task.log"
    with open(log, "w") as output:
        task = subprocess.Popen(
            [sys.executable, str(ENTRYPOINT)], env=environment, stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert task.poll() is None, log.read_text()
            try:
                health = get(f"{base}/_stcore/health")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert health == (200, "ok")
        assert get(f"{base}/_stcore/script-health-check") == (200, "ok")
        # The page shows the release the entrypoint verified (what streamlit.session checks).
        with StreamlitSession(base, Deadline.after(Clock(), 20), threading.Event()) as session:
            session.load()
        assert f"release {digest[:12]}" in session.page.text().splitlines()
    finally:
        task.terminate()
        task.wait(timeout=10)
    text = log.read_text()
    assert f"INFO entrypoint: {markers.STARTING_STREAMLIT} on 127.0.0.1:{port}" in text
    assert not [word for word in markers.FAILURE_WORDS if word in text]
