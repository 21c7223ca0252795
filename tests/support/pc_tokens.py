"""A loopback stand-in for the Planetary Computer token service whose tokens expire, and a
gate for a RangeServer playing the blob store: 403 for a token it was not issued, revoked or
expired (as Azure answers an expired SAS)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

__all__ = ["TokenService", "token_service"]


class TokenService:
    """Issues ``se=<expiry>&sp=r&sig=tok<n>`` tokens living ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self.ttl_s = ttl_s
        self.issued: dict[str, dt.datetime] = {}
        self.revoked: set[str] = set()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = json.dumps(outer._issue()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/sas/v1/token"

    def _issue(self) -> dict[str, str]:
        sig = f"tok{len(self.issued) + 1}"
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.ttl_s)
        self.issued[sig] = expiry
        stamp = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"msft:expiry": stamp, "token": f"se={stamp}&sp=r&sig={sig}"}

    def gate(self, path: str, query: str) -> int | None:
        """403 unless ``query`` carries a token issued here, not revoked, not expired."""
        sig = dict(parse_qsl(query)).get("sig", "")
        expiry = self.issued.get(sig)
        if expiry is None or sig in self.revoked or expiry < dt.datetime.now(dt.UTC):
            return 403
        return None


@contextmanager
def token_service(ttl_s: float = 3600.0) -> Iterator[TokenService]:
    service = TokenService(ttl_s)
    thread = threading.Thread(target=service.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.httpd.shutdown()
        service.httpd.server_close()
