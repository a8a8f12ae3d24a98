"""Container entrypoint for the bundled chatbot: fetch, verify, preflight, serve.

    python entrypoint.py [--no-serve]

The image holds only this file (plus Python, pip and boto3); the app itself is
downloaded at start from ``s3://$CODE_BUCKET/$CODE_PREFIX``, so this module
imports nothing from opskit and nothing from the app. In order:

1. download ``.opskit-manifest.json`` (written by ``opskit s3.sync``), check its
   format and its digest, then download every file it lists into
   ``$APP_DIR/src`` (the object version it pins, from the key it names: a sync
   or restore cut off halfway never changes what the live manifest names) and
   check each file's size and SHA-256; log
   ``code digest <digest> verified`` or exit 1 naming the file that differs (a
   file gone because a sync finished meanwhile: the manifest is read again and,
   when it changed, the download starts over once);
2. ``pip install -r src/requirements.txt`` unless ``CHATBOT_INSTALL_REQUIREMENTS=0``;
3. run the app's preflight (``python -m core.preflight`` in ``src/``): it imports
   every module and health-checks the AWS clients; exit 1 if it fails, so a
   broken release stops here, where ECS and opskit see it, instead of serving
   200 from a Streamlit server whose script raises;
4. log ``Starting Streamlit application`` and exec ``streamlit run``, headless,
   with the script health check endpoint on when this Streamlit has it, and the
   verified digest in ``$CHATBOT_RELEASE_DIGEST`` (the page shows its first 12 hex).

``CHATBOT_ENTRYPOINT_DRY_RUN=1`` (or ``--no-serve``) stops after step 3 with
exit 0. Every line is flushed as written: the log driver ships lines, not
buffers. The manifest format is defined in ``opskit/manifest.py``; the few
lines needed are repeated here on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST_NAME = ".opskit-manifest.json"
MANIFEST_FORMAT = "opskit-manifest/1"
STAGING_DIR = ".opskit/staging/"  # the only place a file's ``key`` may name
APP_SCRIPT = "chatbot_app.py"
PREFLIGHT_MODULE = "core.preflight"
# The same markers as src/core/markers.py (which this file cannot import).
CODE_DIGEST_VERIFIED = "code digest {digest} verified"
STARTING_STREAMLIT = "Starting Streamlit application"
# The verified digest, for the app to show as "release <first 12 hex>": a synthetic
# user (opskit's streamlit.session) then proves the answer came from this release.
RELEASE_DIGEST_ENV = "CHATBOT_RELEASE_DIGEST"
_CHUNK = 1 << 20


class EntrypointError(Exception):
    """Stops the container with exit 1; the message is the one line logged."""


class MissingFile(EntrypointError):
    """A file the manifest lists is not at the key it names (S3 said NoSuchKey)."""


def log(message: str) -> None:
    print(f"INFO entrypoint: {message}", flush=True)


def log_error(message: str) -> None:
    print(f"ERROR entrypoint: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    app_dir: Path
    install_requirements: bool
    dry_run: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, no_serve: bool = False) -> Settings:
        bucket = env.get("CODE_BUCKET", "").strip()
        if not bucket:
            raise EntrypointError("CODE_BUCKET is not set: name the bucket that holds src/")
        if bucket.startswith("s3://"):
            bucket = bucket[len("s3://") :].strip("/")
        return cls(
            bucket=bucket,
            prefix=normalize_prefix(env.get("CODE_PREFIX", "src/")),
            app_dir=Path(env.get("APP_DIR") or "./app").resolve(),
            install_requirements=_flag(env, "CHATBOT_INSTALL_REQUIREMENTS", True),
            dry_run=no_serve or _flag(env, "CHATBOT_ENTRYPOINT_DRY_RUN", False),
        )

    @property
    def src_dir(self) -> Path:
        return self.app_dir / "src"

    def url(self, path: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{path}"


def normalize_prefix(prefix: str) -> str:
    prefix = prefix.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise EntrypointError(f"{name} must be 1 or 0, not {value!r}")


# --- the manifest (same format as opskit/manifest.py) -------------------------


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str
    version_id: str | None = None  # GET this version (S3's "null" is no pin)
    key: str | None = None  # relative to the prefix, when the bytes are not at ``path``

    @property
    def stored_at(self) -> str:
        return self.key or self.path


def tree_digest(entries: Iterable[FileEntry]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path.encode("utf-8")):
        digest.update(f"{entry.sha256}  {entry.size}  {entry.path}\n".encode())
    return digest.hexdigest()


def parse_manifest(text: bytes, where: str) -> tuple[str, list[FileEntry]]:
    """The manifest's digest and files, checked; ``EntrypointError`` says what is wrong."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EntrypointError(f"{where} is not valid JSON: {err}") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise EntrypointError(f"{where} is not an {MANIFEST_FORMAT} manifest")
    try:
        entries = [
            FileEntry(
                str(item["path"]),
                int(item["size"]),
                str(item["sha256"]).lower(),
                _optional_text(item.get("version_id")),
                _optional_text(item.get("key")),
            )
            for item in document["files"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise EntrypointError(f"{where} has a malformed file entry: {err!r}") from None
    for entry in entries:
        safe_relative_path(entry.path, where)
        if entry.key is not None:
            safe_relative_path(entry.key, where)
            if not entry.key.startswith(STAGING_DIR):
                raise EntrypointError(f"{where} names a key outside {STAGING_DIR}: {entry.key!r}")
    digest = tree_digest(entries)
    if document.get("digest") != digest:
        raise EntrypointError(
            f"{where} digest {document.get('digest')!r} does not match its file list ({digest})"
        )
    return digest, entries


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {value!r}")
    return value


def safe_relative_path(path: str, where: str) -> PurePosixPath:
    """Refuse paths that would land outside ``src/``."""
    relative = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or relative.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise EntrypointError(f"{where} lists an unsafe path {path!r}")
    return relative


# --- download and verify ------------------------------------------------------


def s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise EntrypointError("boto3 is not installed in this image") from None
    # Region and endpoint come from the standard AWS environment variables.
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def s3_error(err: Exception, bucket: str, url: str) -> EntrypointError:
    """One line for a failed S3 read."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):  # a botocore error without an answer
        return EntrypointError(f"cannot read {url}: {err}")
    code = response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return EntrypointError(f"bucket {bucket} does not exist (reading {url})")
    if code in ("AccessDenied", "403"):
        return EntrypointError(f"access denied reading {url}")
    message = response.get("Error", {}).get("Message", "")
    return EntrypointError(f"cannot read {url}: {code}: {message}".rstrip(": "))


def _error_code(err: Exception) -> str:
    response = getattr(err, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _is_missing(err: Exception) -> bool:
    return _error_code(err) in ("NoSuchKey", "404")


def fetch_manifest(s3: Any, settings: Settings) -> tuple[str, list[FileEntry]]:
    from botocore.exceptions import BotoCoreError, ClientError

    url = settings.url(MANIFEST_NAME)
    try:
        body = s3.get_object(Bucket=settings.bucket, Key=settings.prefix + MANIFEST_NAME)["Body"]
        text = body.read()
    except ClientError as err:
        if _is_missing(err):
            raise EntrypointError(
                f"no {MANIFEST_NAME} under {settings.url()} — upload with opskit s3.sync"
            ) from None
        raise s3_error(err, settings.bucket, url) from None
    except BotoCoreError as err:
        raise s3_error(err, settings.bucket, url) from None
    return parse_manifest(text, url)


def download_file(s3: Any, settings: Settings, entry: FileEntry, target: Path) -> None:
    """Stream one object to ``target`` and check its size and SHA-256: the version
    the manifest pins (needs ``s3:GetObjectVersion``), from the key it names."""
    from botocore.exceptions import BotoCoreError, ClientError

    url = settings.url(entry.stored_at)
    request = {"Bucket": settings.bucket, "Key": settings.prefix + entry.stored_at}
    if entry.version_id and entry.version_id != "null":
        request["VersionId"] = entry.version_id
        url += f"?versionId={entry.version_id}"
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        body = s3.get_object(**request)["Body"]
        with open(target, "wb") as handle:
            for chunk in body.iter_chunks(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
    except ClientError as err:
        if _is_missing(err):
            raise MissingFile(
                f"{entry.path} is listed in the manifest but missing from {url}"
            ) from None
        if "VersionId" in request and _error_code(err) in ("NoSuchVersion", "InvalidArgument"):
            raise EntrypointError(
                f"{entry.path}: the version the manifest pins no longer exists ({url})"
            ) from None
        raise s3_error(err, settings.bucket, url) from None
    except BotoCoreError as err:
        raise s3_error(err, settings.bucket, url) from None
    if size != entry.size:
        raise EntrypointError(
            f"{entry.path} does not match the manifest: {size} bytes, expected {entry.size} ({url})"
        )
    if digest.hexdigest() != entry.sha256:
        raise EntrypointError(
            f"{entry.path} does not match the manifest: sha256 {digest.hexdigest()}, "
            f"expected {entry.sha256} ({url})"
        )


def download_release(s3: Any, settings: Settings) -> str:
    """Fetch and verify the release into a fresh ``src/``; return its digest.

    Files land in a staging directory first: a failed or tampered download never
    leaves a half-replaced ``src/`` behind, and files of an earlier release that
    the manifest no longer lists are gone.

    A file found missing may be a sync's doing, not damage: a sync deletes
    staging objects an interim manifest named once a newer manifest is live. So
    the manifest is read once more; when it changed, the download starts again
    from it (S3 reads are strongly consistent after a write, so this read sees
    the newer manifest); when it did not, the release is broken and the file is
    named.
    """
    manifest = fetch_manifest(s3, settings)
    try:
        return _download(s3, settings, manifest)
    except MissingFile as err:
        again = fetch_manifest(s3, settings)
        if again == manifest:
            raise
        log(f"{err}; the manifest changed since it was read: reading it again")
        return _download(s3, settings, again)


def _download(s3: Any, settings: Settings, manifest: tuple[str, list[FileEntry]]) -> str:
    digest, entries = manifest
    log(f"manifest {settings.url(MANIFEST_NAME)}: {len(entries)} files, digest {digest}")
    settings.app_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".src-download-", dir=settings.app_dir))
    try:
        for entry in entries:
            download_file(s3, settings, entry, staging.joinpath(*entry.path.split("/")))
        if settings.src_dir.exists():
            shutil.rmtree(settings.src_dir)
        staging.rename(settings.src_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log(CODE_DIGEST_VERIFIED.format(digest=digest))
    return digest


# --- install, preflight, serve ------------------------------------------------


def child_env(src_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), env.get("PYTHONPATH")]))
    return env


def install_requirements(settings: Settings) -> None:
    requirements = settings.src_dir / "requirements.txt"
    if not settings.install_requirements:
        log("CHATBOT_INSTALL_REQUIREMENTS=0: not installing requirements")
        return
    if not requirements.is_file():
        log("no requirements.txt in the release: nothing to install")
        return
    log(f"installing requirements from {requirements}")
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir"]
    command += ["--disable-pip-version-check", "-r", str(requirements)]
    result = subprocess.run(command, env=child_env(settings.src_dir), check=False)
    if result.returncode != 0:
        raise EntrypointError(f"pip install -r {requirements} failed (exit {result.returncode})")
    log("requirements installed")


def run_preflight(settings: Settings) -> None:
    src = settings.src_dir
    module_file = src.joinpath(*PREFLIGHT_MODULE.split(".")).with_suffix(".py")
    if not module_file.is_file():
        raise EntrypointError(f"the release has no {module_file.relative_to(src).as_posix()}")
    log(f"running preflight ({PREFLIGHT_MODULE})")
    command = [sys.executable, "-m", PREFLIGHT_MODULE]
    result = subprocess.run(command, cwd=src, env=child_env(src), check=False)
    if result.returncode != 0:
        raise EntrypointError(
            f"preflight failed (exit {result.returncode}): not starting the app; "
            "see the lines above"
        )


def streamlit_supports(option: str) -> bool:
    """Whether the installed Streamlit defines ``option``, read without importing it."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec("streamlit")
    if spec is None or not spec.submodule_search_locations:
        raise EntrypointError("streamlit is not installed (see CHATBOT_INSTALL_REQUIREMENTS)")
    config = Path(next(iter(spec.submodule_search_locations))) / "config.py"
    try:
        return f'"{option}"' in config.read_text(encoding="utf-8")
    except OSError:
        return False


def streamlit_command(settings: Settings, env: Mapping[str, str]) -> list[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(settings.src_dir / APP_SCRIPT)]
    command += ["--server.headless=true", "--browser.gatherUsageStats=false"]
    # A served release, not a development session: no "Deploy" or rerun menu.
    command.append("--client.toolbarMode=viewer")
    # /_stcore/health answers 200 even when the script raises; the script
    # health check runs the script (a hidden option, Streamlit >= 1.12 or so).
    if streamlit_supports("server.scriptHealthCheckEnabled"):
        command.append("--server.scriptHealthCheckEnabled=true")
    # The release never changes under a running task: no file watcher.
    if "STREAMLIT_SERVER_FILE_WATCHER_TYPE" not in env:
        command.append("--server.fileWatcherType=none")
    return command


def serve(settings: Settings) -> None:
    """Replace this process with Streamlit (it becomes the container's main process)."""
    command = streamlit_command(settings, os.environ)
    address = os.environ.get("STREAMLIT_SERVER_ADDRESS") or "0.0.0.0"
    port = os.environ.get("STREAMLIT_SERVER_PORT") or "8501"
    if settings.dry_run:
        log(f"dry run: not starting Streamlit (would run: {' '.join(command[1:])})")
        return
    log(f"{STARTING_STREAMLIT} on {address}:{port}")
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.chdir(settings.src_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, errors="backslashreplace")  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--no-serve", action="store_true", help="stop after the preflight (exit 0 when ready)"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ, no_serve=args.no_serve)
        log(f"fetching the release from {settings.url()} into {settings.src_dir}")
        os.environ[RELEASE_DIGEST_ENV] = download_release(s3_client(), settings)
        install_requirements(settings)
        run_preflight(settings)
        serve(settings)
    except EntrypointError as err:
        log_error(str(err))
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
