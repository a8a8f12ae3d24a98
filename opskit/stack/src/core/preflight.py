"""Prove the release can serve before Streamlit starts: ``python -m core.preflight``.

Streamlit runs the app's script only when a browser session opens, and its
server answers 200 whatever the script does (streamlit#3638). So the
entrypoint runs this first, in the downloaded ``src/``: it imports every
module of the app (a syntax error fails here, with its traceback on stderr),
builds the clients the settings call for and runs their health checks. Exit
status 0 means ready; anything else stops the task where ECS and opskit see it.

Only the standard library is imported at module level: a broken app module
must fail inside ``main()``, with a clear last line, not before it.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent.parent


def app_modules(src_dir: Path = SRC_DIR) -> list[tuple[str, Path]]:
    """Module names of every ``.py`` file of the app, packages before their modules."""
    modules = []
    for path in sorted(src_dir.rglob("*.py")):
        relative = path.relative_to(src_dir)
        if "__pycache__" in relative.parts:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules.append((".".join(parts), relative))
    return sorted(modules, key=lambda item: (item[0].count("."), item[0]))


def import_app(src_dir: Path = SRC_DIR) -> str | None:
    """Import every module; on the first failure print its traceback, return why."""
    for name, relative in app_modules(src_dir):
        try:
            importlib.import_module(name)
        except BaseException as err:  # SystemExit from a module is a failure too
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            return f"{relative.as_posix()} does not import ({type(err).__name__}: {err})"
    return None


def main() -> int:
    failure = import_app()
    if failure:
        # The app's own logging may be what is broken: same format, by hand.
        print(f"ERROR chatbot.preflight: Preflight failed: {failure}", flush=True)
        return 1
    from core.applog import get_logger
    from core.markers import PREFLIGHT_FAILED, PREFLIGHT_PASSED

    log = get_logger("preflight")
    failure = check_clients()
    if failure:
        log.error(PREFLIGHT_FAILED.format(reason=failure))
        return 1
    log.info(PREFLIGHT_PASSED)
    return 0


def check_clients() -> str | None:
    from core.applog import get_logger
    from core.aws_clients import ClientManager
    from core.backend import provider_line
    from core.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as err:
        return str(err)
    get_logger("preflight").info(provider_line(settings))
    results = ClientManager(settings).check_all(settings.required_services())
    failed = [result.label for result in results if not result.passed]
    if failed:
        return f"health check failed for {', '.join(failed)}"
    return None


if __name__ == "__main__":
    sys.exit(main())
