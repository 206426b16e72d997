"""Real servers on 127.0.0.1 for tests: one way to run an HTTP handler in a thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """``handler`` served on 127.0.0.1 (a free port: ``server.server_address[1]``) until the
    block ends; request threads never hold up the test's exit."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


class CountingHTTPServer(ThreadingHTTPServer):
    """Counts the TCP connections it accepts (``connections``) and, with a handler that
    calls :meth:`count_request`, the requests (``requests``)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.connections = 0
        self.requests = 0
        self._count_lock = threading.Lock()

    def process_request(self, request: object, client_address: object) -> None:
        with self._count_lock:
            self.connections += 1
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def count_request(self) -> None:
        with self._count_lock:
            self.requests += 1


@contextlib.contextmanager
def serve_counting(handler: type[BaseHTTPRequestHandler]) -> Iterator[CountingHTTPServer]:
    """Like :func:`serve_http`, counting the connections accepted."""
    srv = CountingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
