"""The stable URL: a TCP forwarder on 127.0.0.1, as the ALB in front of the service.

Raw TCP, not HTTP, because Streamlit's UI talks over a websocket. Each new
connection goes to the task that the agent currently names; open connections
stay with their task until it stops (then the browser reconnects, as it does
behind a real load balancer). With no healthy task, it answers 503 as an ALB
with an empty target group does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from opskit.sandbox.errors import SandboxError

_NO_TARGET = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 33\r\n"
    b"Connection: close\r\n\r\nno healthy task behind the proxy\n"
)
_CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, port: int, target: Callable[[], int | None], host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self._target = target
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as err:
            listener.close()
            raise SandboxError(
                f"cannot serve the app on {self.host}:{self.port}: {err.strerror or err} "
                "(is another sandbox or app using it? pick another port)"
            ) from None
        listener.listen(64)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="sandbox-proxy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = list(self._open)
            self._open.clear()
        for conn in connections:
            _close(conn)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        port = self._target()
        if port is None:
            with contextlib.suppress(OSError):
                client.sendall(_NO_TARGET)
            _close(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            with contextlib.suppress(OSError):
                client.sendall(_NO_TARGET)
            _close(client)
            return
        upstream.settimeout(None)
        pair = _Pair(client, upstream)
        with self._lock:
            if self._stopping.is_set():
                pair.close()
                return
            self._open.update(pair.sockets)
        threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()
        self._pump(client, upstream, pair)

    def _pump(self, source: socket.socket, sink: socket.socket, pair: _Pair) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        except OSError:
            pair.close()  # one side broke: the other direction ends too
        finally:
            if pair.direction_done():
                with self._lock:
                    self._open.difference_update(pair.sockets)
                pair.close()


class _Pair:
    """A client connection and its upstream; closed when both directions end."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.sockets = (client, upstream)
        self._remaining = 2
        self._lock = threading.Lock()

    def direction_done(self) -> bool:
        with self._lock:
            self._remaining -= 1
            return self._remaining == 0

    def close(self) -> None:
        for sock in self.sockets:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
