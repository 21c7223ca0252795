"""A real loopback HTTP server for tests: static files with byte ranges, a STAC API, faults.

``RangeServer(root)`` serves the files under ``root`` from ``http://127.0.0.1:PORT`` (an
ephemeral port) with HTTP/1.1 keep-alive and ``Range`` requests (``bytes=a-b``, ``bytes=a-``,
``bytes=-n``; 206 with ``Content-Range``, 416 when unsatisfiable; a multi-range header is
answered with the whole file, as RFC 9110 allows), so GDAL's ``/vsicurl/`` reads COGs from
it exactly as from a cloud bucket.

On top of the static STAC catalog found at ``root/catalog.json`` (or, without one, every
STAC JSON file under ``root``) it emulates a STAC API (:mod:`tests.support.stacapi`):
``GET /`` (landing page), ``/conformance``, ``/collections``, ``/collections/{id}``,
``/collections/{id}/items[/{item}]`` and ``GET``/``POST /search``, paged through ``next``
links. Items are served with asset hrefs and links rewritten to absolute URLs on this server;
asset hrefs that point outside ``root`` (or to other hosts) are passed through untouched, so
tests can plant hostile hrefs. The catalog is read on the first API request; call
:meth:`RangeServer.reload` after changing it.

Faults are scripted per request with :meth:`RangeServer.script`; every request is logged in
:attr:`RangeServer.requests`. The server logs through ``logging`` at DEBUG only.

    with RangeServer(tmp_path) as srv:
        srv.script(r"^/search$", [("status", 503), ("status", 503)])
        client = pystac_client.Client.open(srv.stac_api_url)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import email.utils
import json
import logging
import mimetypes
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .http_responses import JSON_TYPE, BadRequestError, Response, error_response, json_response
from .stacapi import StacIndex, api_route

__all__ = ["NotSatisfiableError", "RangeServer", "RequestRecord", "byte_range"]

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
    ".png": "image/png",
}
_CHUNK = 64 * 1024
_IDLE_TIMEOUT_S = 30.0
_ACTIONS = {
    "status": (1, 2),
    "delay": (1, 1),
    "drop_after": (1, 1),
    "hang": (0, 0),
    "trickle": (2, 2),
    "body": (1, 3),
    "transform": (1, 1),
    "close": (0, 0),
}


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received."""

    method: str
    path: str
    """URL path, percent-decoded, without the query."""
    query: str
    range: str | None
    """The ``Range`` header as sent, or None."""
    status: int
    """Status sent; 0 when no response was sent (``hang``, ``close``)."""
    action: str | None = None
    """Name of the scripted fault applied to this request, if any."""
    body: bytes = b""
    """Request body (POST searches)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Request headers as received."""


class NotSatisfiableError(Exception):
    """A ``Range`` no byte of the file satisfies (416)."""


@dataclass
class _Script:
    pattern: re.Pattern[str]
    method: str | None
    responses: collections.deque[tuple[Any, ...]]
    cycle: bool
    min_offset: int | None = None


class RangeServer:
    """Loopback HTTP server for ``root``; use as a context manager (see module docstring)."""

    def __init__(self, root: str | Path, *, catalog: str = "catalog.json") -> None:
        self.root = Path(root).resolve()
        self.catalog_path = self.root / catalog
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._connections: set[socket.socket] = set()
        self._requests: list[RequestRecord] = []
        self._scripts: list[_Script] = []
        self._index: StacIndex | None = None
        self.gate: Callable[[str, str], int | None] | None = None
        """``gate(path, query)`` -> a status to answer instead (a blob store refusing an
        expired token with 403), or None to answer normally"""
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> RangeServer:
        """Bind 127.0.0.1 on an ephemeral port and serve from a background thread."""
        if self._httpd is not None:
            raise RuntimeError("RangeServer already started")
        self._stop.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"rangeserver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("rangeserver serving %s at %s", self.root, self.url)
        return self

    def stop(self) -> None:
        """Stop serving, break open connections and join every thread the server started."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        with self._lock:
            self._stop.set()
            connections = list(self._connections)
        httpd.shutdown()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()  # joins the handler threads (block_on_close)
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("RangeServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def stac_api_url(self) -> str:
        """The STAC API landing page."""
        return f"{self.url}/"

    def file_url(self, relpath: str | Path) -> str:
        """URL of a file under ``root``, given relative to it (or absolute inside it)."""
        path = Path(relpath)
        if path.is_absolute():
            path = path.resolve().relative_to(self.root)
        return f"{self.url}/{quote(path.as_posix())}"

    # -- faults and log -----------------------------------------------------------------

    def script(
        self,
        path_regex: str,
        responses: Sequence[tuple[Any, ...]],
        *,
        method: str | None = None,
        cycle: bool = False,
        min_offset: int | None = None,
    ) -> None:
        """Answer the next requests whose path matches ``path_regex`` (``re.search`` on the
        decoded path, no query) with ``responses``, one per request, in order; then normally.

        ``method`` restricts the script to one HTTP method; ``cycle=True`` repeats the
        responses forever; ``min_offset`` restricts it to range requests starting at or
        after that byte (the block reads after a file's header was read). A response is
        one of:

        * ``("status", code)`` or ``("status", code, {header: value})`` - an error with a
          small JSON body;
        * ``("delay", seconds)`` - wait, then answer normally;
        * ``("drop_after", nbytes)`` - normal headers, ``nbytes`` of the body, then the
          connection is closed;
        * ``("hang",)`` - read the request, never answer (until the server stops);
        * ``("trickle", nbytes, seconds)`` - the normal answer, ``nbytes`` every ``seconds``;
        * ``("body", bytes_or_str[, content_type[, status]])`` - this body instead;
        * ``("transform", fn)`` - ``fn(doc) -> doc`` on a JSON API answer before it is sent;
        * ``("close",)`` - close the connection without answering.
        """
        entries = collections.deque(tuple(r) for r in responses)
        for entry in entries:
            if not entry or entry[0] not in _ACTIONS:
                raise ValueError(f"unknown fault {entry!r}; use one of {sorted(_ACTIONS)}")
            low, high = _ACTIONS[entry[0]]
            if not low <= len(entry) - 1 <= high:
                raise ValueError(f"fault {entry!r} takes {low} to {high} arguments")
        with self._lock:
            self._scripts.append(
                _Script(
                    re.compile(path_regex), method and method.upper(), entries, cycle, min_offset
                )
            )

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def reload(self) -> None:
        """Forget the STAC index; the next API request reads the catalog again."""
        with self._lock:
            self._index = None

    # -- used by the handler ------------------------------------------------------------

    def _next_fault(
        self, method: str, path: str, range_header: str | None = None
    ) -> tuple[Any, ...] | None:
        with self._lock:
            for entry in self._scripts:
                if (
                    entry.responses
                    and entry.method in (None, method)
                    and entry.pattern.search(path)
                    and _from_offset(range_header, entry.min_offset)
                ):
                    fault = entry.responses.popleft()
                    if entry.cycle:
                        entry.responses.append(fault)
                    return fault
        return None

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _set_status(self, record: RequestRecord, status: int) -> None:
        with self._lock:
            for index in range(len(self._requests) - 1, -1, -1):
                if self._requests[index] is record:
                    self._requests[index] = dataclasses.replace(record, status=status)
                    return

    def _register(self, conn: socket.socket) -> bool:
        with self._lock:
            if self._stop.is_set():
                return False
            self._connections.add(conn)
            return True

    def _unregister(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _stac(self) -> StacIndex:
        with self._lock:
            if self._index is None:
                self._index = StacIndex.load(self.root, self.catalog_path, self.url)
            return self._index


# ---------------------------------------------------------------------------- HTTP layer


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, app: RangeServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up; loopback needs no DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("rangeserver: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "yamasat-rangeserver/1"
    timeout = _IDLE_TIMEOUT_S
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        if not self.server.app._register(self.connection):
            self.close_connection = True

    def finish(self) -> None:
        self.server.app._unregister(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        if self.server.app._stop.is_set():
            return
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("rangeserver %s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    # -- dispatch -----------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        body = self._read_body()
        fault = app._next_fault(method, path, self.headers.get("Range")) or ("none",)
        action = fault[0]
        record = RequestRecord(
            method,
            path,
            parts.query,
            self.headers.get("Range"),
            0,
            None if action == "none" else action,
            body,
            dict(self.headers.items()),
        )
        app._log(record)  # on arrival, so a hanging request is visible at once

        if action == "hang":
            app._stop.wait()
        if action in ("hang", "close") or (action == "delay" and app._stop.wait(fault[1])):
            self.close_connection = True
            return

        refused = app.gate(path, parts.query) if app.gate and action == "none" else None
        if refused is not None:
            response = error_response(refused, "AuthenticationFailed", "gate refused")
        elif action == "status":
            response = error_response(int(fault[1]), "ScriptedFault", "scripted fault")
            response.headers.update(fault[2] if len(fault) > 2 else {})
        elif action == "body":
            raw = fault[1].encode() if isinstance(fault[1], str) else bytes(fault[1])
            response = Response(int(fault[3]) if len(fault) > 3 else 200, body=raw)
            response.headers["Content-Type"] = fault[2] if len(fault) > 2 else JSON_TYPE
        else:
            response = self._route(method, path, parts.query, body)
            if action == "transform" and response.json_doc is not None:
                content_type = response.headers.get("Content-Type", JSON_TYPE)
                response = json_response(response.status, fault[1](response.json_doc), content_type)
        app._set_status(record, response.status)
        self._send(
            response,
            head=method == "HEAD",
            limit=int(fault[1]) if action == "drop_after" else None,
            trickle=(int(fault[1]), float(fault[2])) if action == "trickle" else None,
        )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, method: str, path: str, query: str, body: bytes) -> Response:
        app = self.server.app
        try:
            api = api_route(path)
            if api is not None:
                if method == "POST" and api[0] != "search":
                    return error_response(405, "MethodNotAllowed", f"POST is not allowed on {path}")
                params: dict[str, Any]
                if method == "POST":
                    params = _json_body(body)
                else:
                    params = dict(parse_qsl(query, keep_blank_values=True))
                return app._stac().answer(api, params, method=method)
            if method == "POST":
                return error_response(405, "MethodNotAllowed", f"POST is not allowed on {path}")
            return _static(app.root, path, self.headers.get("Range"))
        except BadRequestError as e:
            return error_response(400, "BadRequest", str(e))
        except (OSError, ValueError, KeyError, TypeError) as e:  # a broken catalog under test
            logger.debug("rangeserver: cannot answer %s %s", method, path, exc_info=True)
            return error_response(500, "ServerError", f"{type(e).__name__}: {e}")

    def _send(
        self,
        response: Response,
        *,
        head: bool,
        limit: int | None,
        trickle: tuple[int, float] | None,
    ) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(response.length))
        if limit is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if head:
            return
        stop = self.server.app._stop
        sent = 0
        for chunk in _chunks(response, trickle[0] if trickle else _CHUNK):
            if limit is not None and sent + len(chunk) >= limit:
                self.wfile.write(chunk[: max(limit - sent, 0)])
                self.close_connection = True
                return
            self.wfile.write(chunk)
            sent += len(chunk)
            if trickle is not None and stop.wait(trickle[1]):
                self.close_connection = True
                return


def _from_offset(range_header: str | None, min_offset: int | None) -> bool:
    """Whether a request with ``range_header`` starts at or after ``min_offset`` (always
    when there is no ``min_offset``)."""
    if min_offset is None:
        return True
    match = re.match(r"\s*bytes\s*=\s*(\d+)", range_header or "")
    return match is not None and int(match.group(1)) >= min_offset


def _chunks(response: Response, size: int) -> Iterator[bytes]:
    if response.file is None:
        for start in range(0, len(response.body), size):
            yield response.body[start : start + size]
        return
    path, offset, remaining = response.file
    with path.open("rb") as f:
        f.seek(offset)
        while remaining > 0:
            chunk = f.read(min(size, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError as e:
        raise BadRequestError(f"request body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadRequestError("request body must be a JSON object")
    return doc


# ---------------------------------------------------------------------------- static files


def _static(root: Path, path: str, range_header: str | None) -> Response:
    """A file under ``root`` with byte-range support, or 404 (never outside ``root``)."""
    target = (root / path.lstrip("/")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return error_response(404, "NotFound", f"no file at {path}")
    stat = target.stat()
    size = stat.st_size
    headers = {
        "Content-Type": _content_type(target),
        "Accept-Ranges": "bytes",
        "ETag": f'"{stat.st_mtime_ns:x}-{size:x}"',
        "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
    }
    try:
        span = byte_range(range_header, size)
    except NotSatisfiableError:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(416, headers)
    if span is None:
        return Response(200, headers, file=(target, 0, size))
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(206, headers, file=(target, first, last - first + 1))


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a ``Range`` header asks of a ``size``-byte file.

    None means "send the whole file" (no header, a malformed one, a unit other than bytes,
    or several ranges); raises :class:`NotSatisfiableError` when no byte can be sent (RFC 9110
    section 14).
    """
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise NotSatisfiableError
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise NotSatisfiableError
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
