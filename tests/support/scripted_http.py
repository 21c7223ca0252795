"""A tiny scripted HTTP server on loopback: fixed answers per path, statuses to give first,
an optional delay, and a record of what was asked (path and headers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ScriptedServer", "scripted_server"]


class ScriptedServer:
    """``files[path]`` is served with 200; ``failures[path]`` lists statuses to answer first;
    ``redirects[path]`` answers 302 to a Location; ``delay_s`` stalls every answer (a hung
    server); ``hits`` records (path, headers)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.failures: dict[str, list[int]] = {}
        self.redirects: dict[str, str] = {}  # path -> Location of a 302
        self.delay_s = 0.0
        self.hits: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append((self.path, dict(self.headers.items())))
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                if self.path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                queue = outer.failures.get(self.path, [])
                status = queue.pop(0) if queue else (200 if self.path in outer.files else 404)
                body = outer.files.get(self.path, b"") if status == 200 else b"no"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def paths(self) -> list[str]:
        return [p for p, _h in self.hits]


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    threading.Thread(target=server.httpd.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
