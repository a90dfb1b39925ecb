"""Run an emulator's Flask app on loopback: in a thread for tests, or in the foreground."""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print a line per request (tests make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing."""


class RunningServer:
    """A threaded WSGI server serving one app on 127.0.0.1 in a daemon thread.

    Use as a context manager, or call :meth:`stop` when done.
    """

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"emulator-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL, for example ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (``closedloop emulate``)."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
