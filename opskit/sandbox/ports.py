"""Loopback ports for the sandbox: is one free, which one is.

The check binds as the proxy and moto's server do (``SO_REUSEADDR``), so a
previous run's connections in TIME_WAIT do not make a port look busy; only a
listener does.
"""

from __future__ import annotations

import socket

from opskit.sandbox.errors import SandboxError

HOST = "127.0.0.1"


def _bind_error(port: int) -> OSError | None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as err:
            return err
        return None


def port_free(port: int) -> bool:
    """Whether a server could listen on ``127.0.0.1:port`` now (0: any port, always)."""
    return port == 0 or _bind_error(port) is None


def check_port_free(port: int, what: str) -> None:
    """Raise ``SandboxError`` naming ``what`` and the port when it is taken."""
    err = _bind_error(port) if port else None
    if err is not None:
        raise SandboxError(f"cannot start {what} on {HOST}:{port}: {err.strerror or err}")


def free_port() -> int:
    """A port that is free now (the OS picks it; another process may take it later)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
