"""A real loopback HTTP server for tests: static files with byte ranges, a STAC API, faults.

``RangeServer(root)`` serves the files under ``root`` from ``http://127.0.0.1:PORT`` (an
ephemeral port) with HTTP/1.1 keep-alive and ``Range`` requests (``bytes=a-b``, ``bytes=a-``,
``bytes=-n``; 206 with ``Content-Range``, 416 when unsatisfiable; a multi-range header is
answered with the whole file, as RFC 9110 allows), so GDAL's ``/vsicurl/`` reads COGs from
it exactly as from a cloud bucket.

On top of the static STAC catalog found at ``root/catalog.json`` (or, without one, every
STAC JSON file under ``root``) it emulates a STAC API: ``GET /`` (landing page),
``/conformance``, ``/collections``, ``/collections/{id}``, ``/collections/{id}/items[/{item}]``
and ``GET``/``POST /search`` with ``collections``, ``ids``, ``bbox``, ``intersects``,
``datetime`` and ``limit``, paged through ``next`` links that carry a ``token``. Items are
served with asset hrefs and links rewritten to absolute URLs on this server; asset hrefs that
point outside ``root`` (or to other hosts) are passed through untouched, so tests can plant
hostile hrefs. The catalog is read on the first API request; call :meth:`RangeServer.reload`
after changing it.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import shapely.geometry
from shapely.geometry.base import BaseGeometry

__all__ = ["RangeServer", "RequestRecord"]

logger = logging.getLogger(__name__)

STAC_VERSION = "1.0.0"
CONFORMANCE = (
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
_CONTENT_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
    ".png": "image/png",
}
_GEOJSON = "application/geo+json"
_JSON = "application/json"
_CHUNK = 64 * 1024
_DEFAULT_LIMIT = 10
_MAX_LIMIT = 10_000
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


class _BadRequestError(Exception):
    """A STAC API request the server rejects with 400."""


class _NotSatisfiableError(Exception):
    """A ``Range`` no byte of the file satisfies (416)."""


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: tuple[Path, int, int] | None = None
    """(path, first byte, length) to send instead of ``body``."""
    json_doc: Any = None
    """The JSON document behind ``body``, for the ``transform`` fault."""

    @property
    def length(self) -> int:
        return self.file[2] if self.file is not None else len(self.body)


@dataclass
class _Script:
    pattern: re.Pattern[str]
    method: str | None
    responses: collections.deque[tuple[Any, ...]]
    cycle: bool


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
        self._index: _StacIndex | None = None
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
    ) -> None:
        """Answer the next requests whose path matches ``path_regex`` (``re.search`` on the
        decoded path, no query) with ``responses``, one per request, in order; then normally.

        ``method`` restricts the script to one HTTP method; ``cycle=True`` repeats the
        responses forever. A response is one of:

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
                _Script(re.compile(path_regex), method and method.upper(), entries, cycle)
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

    def _next_fault(self, method: str, path: str) -> tuple[Any, ...] | None:
        with self._lock:
            for entry in self._scripts:
                if (
                    entry.responses
                    and entry.method in (None, method)
                    and entry.pattern.search(path)
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

    def _stac(self) -> _StacIndex:
        with self._lock:
            if self._index is None:
                self._index = _StacIndex.load(self.root, self.catalog_path, self.url)
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
        fault = app._next_fault(method, path) or ("none",)
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

        if action == "status":
            response = _error(int(fault[1]), "ScriptedFault", "scripted fault")
            response.headers.update(fault[2] if len(fault) > 2 else {})
        elif action == "body":
            raw = fault[1].encode() if isinstance(fault[1], str) else bytes(fault[1])
            response = _Response(int(fault[3]) if len(fault) > 3 else 200, body=raw)
            response.headers["Content-Type"] = fault[2] if len(fault) > 2 else _JSON
        else:
            response = self._route(method, path, parts.query, body)
            if action == "transform" and response.json_doc is not None:
                content_type = response.headers.get("Content-Type", _JSON)
                response = _json_response(
                    response.status, fault[1](response.json_doc), content_type
                )
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

    def _route(self, method: str, path: str, query: str, body: bytes) -> _Response:
        app = self.server.app
        try:
            api = _api_route(path)
            if api is not None:
                if method == "POST" and api[0] != "search":
                    return _error(405, "MethodNotAllowed", f"POST is not allowed on {path}")
                params: dict[str, Any]
                if method == "POST":
                    params = _json_body(body)
                else:
                    params = dict(parse_qsl(query, keep_blank_values=True))
                return app._stac().answer(api, params, method=method)
            if method == "POST":
                return _error(405, "MethodNotAllowed", f"POST is not allowed on {path}")
            return _static(app.root, path, self.headers.get("Range"))
        except _BadRequestError as e:
            return _error(400, "BadRequest", str(e))
        except (OSError, ValueError, KeyError, TypeError) as e:  # a broken catalog under test
            logger.debug("rangeserver: cannot answer %s %s", method, path, exc_info=True)
            return _error(500, "ServerError", f"{type(e).__name__}: {e}")

    def _send(
        self,
        response: _Response,
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


def _chunks(response: _Response, size: int) -> Iterator[bytes]:
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


def _json_response(status: int, doc: Any, content_type: str = _JSON) -> _Response:
    body = json.dumps(doc).encode()
    return _Response(status, {"Content-Type": content_type}, body, json_doc=doc)


def _error(status: int, code: str, description: str) -> _Response:
    return _json_response(status, {"code": code, "description": description})


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError as e:
        raise _BadRequestError(f"request body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _BadRequestError("request body must be a JSON object")
    return doc


# ---------------------------------------------------------------------------- static files


def _static(root: Path, path: str, range_header: str | None) -> _Response:
    """A file under ``root`` with byte-range support, or 404 (never outside ``root``)."""
    target = (root / path.lstrip("/")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return _error(404, "NotFound", f"no file at {path}")
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
    except _NotSatisfiableError:
        headers["Content-Range"] = f"bytes */{size}"
        return _Response(416, headers)
    if span is None:
        return _Response(200, headers, file=(target, 0, size))
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return _Response(206, headers, file=(target, first, last - first + 1))


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a ``Range`` header asks of a ``size``-byte file.

    None means "send the whole file" (no header, a malformed one, a unit other than bytes,
    or several ranges); raises :class:`_NotSatisfiableError` when no byte can be sent (RFC 9110
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
            raise _NotSatisfiableError
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise _NotSatisfiableError
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# ---------------------------------------------------------------------------- STAC API


def _api_route(path: str) -> tuple[str, ...] | None:
    """The API endpoint a path names, or None for a static file."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return ("landing",)
    head, rest = segments[0], segments[1:]
    if head in ("conformance", "search") and not rest:
        return (head,)
    if head == "collections":
        if not rest:
            return ("collections",)
        if len(rest) == 1:
            return ("collection", rest[0])
        if len(rest) == 2 and rest[1] == "items":
            return ("items", rest[0])
        if len(rest) == 3 and rest[1] == "items":
            return ("item", rest[0], rest[2])
    return None


@dataclass
class _StacIndex:
    """The static catalog as the API serves it, hrefs already pointing at the server."""

    url: str
    catalog: dict[str, Any]
    collections: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]

    @classmethod
    def load(cls, root: Path, catalog_path: Path, url: str) -> _StacIndex:
        docs = _walk(catalog_path, root) if catalog_path.is_file() else _scan(root)
        catalog: dict[str, Any] = {"id": "rangeserver", "description": "RangeServer STAC API"}
        collections_: dict[str, dict[str, Any]] = {}
        items: list[dict[str, Any]] = []
        for file, doc, parent_collection in docs:
            kind = doc.get("type")
            if kind == "Catalog" and file == catalog_path:
                catalog = doc
            elif kind == "Collection":
                collections_[doc["id"]] = _rewrite_collection(doc, file, root, url)
            elif kind == "Feature":
                items.append(_rewrite_item(doc, file, root, url, parent_collection))
        return cls(url, catalog, collections_, items)

    def answer(self, route: tuple[str, ...], params: dict[str, Any], *, method: str) -> _Response:
        kind = route[0]
        if kind == "search":
            return self._search(params, method, "/search")
        if kind == "landing":
            return _json_response(200, self._landing())
        if kind == "conformance":
            return _json_response(200, {"conformsTo": list(CONFORMANCE)})
        if kind == "collections":
            links = [self._link("root", "/"), self._link("self", "/collections")]
            return _json_response(
                200, {"collections": list(self.collections.values()), "links": links}
            )
        if route[1] not in self.collections:
            return _error(404, "NotFound", f"no collection {route[1]!r}")
        if kind == "collection":
            return _json_response(200, self.collections[route[1]])
        if kind == "item":
            for item in self.items:
                if item.get("collection") == route[1] and item["id"] == route[2]:
                    return _json_response(200, item, _GEOJSON)
            return _error(404, "NotFound", f"no item {route[2]!r} in {route[1]!r}")
        path = f"/collections/{quote(route[1])}/items"
        return self._search({**params, "collections": [route[1]]}, method, path)

    def _search(self, params: dict[str, Any], method: str, path: str) -> _Response:
        query = _SearchQuery.parse(params)
        matched = [item for item in self.items if query.matches(item)]
        page = matched[query.offset : query.offset + query.limit]
        links = [self._link("root", "/")]
        next_offset = query.offset + len(page)
        if next_offset < len(matched):
            if method == "POST":
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self.url}{path}",
                        "type": _GEOJSON,
                        "method": "POST",
                        "body": {**params, "token": str(next_offset)},
                        "merge": False,
                    }
                )
            else:
                get_params = {k: _as_query_value(v) for k, v in params.items() if k != "token"}
                if path != "/search":
                    get_params.pop("collections", None)
                get_params["token"] = str(next_offset)
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self.url}{path}?{urlencode(get_params)}",
                        "type": _GEOJSON,
                        "method": "GET",
                    }
                )
        doc = {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
        }
        return _json_response(200, doc, _GEOJSON)

    def _landing(self) -> dict[str, Any]:
        links = [
            self._link("root", "/"),
            self._link("self", "/"),
            self._link("conformance", "/conformance", _JSON),
            self._link("data", "/collections", _JSON),
            {**self._link("search", "/search", _GEOJSON), "method": "GET"},
            {**self._link("search", "/search", _GEOJSON), "method": "POST"},
        ]
        links += [self._link("child", f"/collections/{quote(cid)}") for cid in self.collections]
        return {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": self.catalog.get("id", "rangeserver"),
            "title": self.catalog.get("title", "RangeServer"),
            "description": self.catalog.get("description", "RangeServer STAC API"),
            "conformsTo": list(CONFORMANCE),
            "links": links,
        }

    def _link(self, rel: str, path: str, media_type: str = _JSON) -> dict[str, Any]:
        return {"rel": rel, "href": f"{self.url}{path}", "type": media_type}


def _as_query_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class _SearchQuery:
    collections: frozenset[str] | None
    ids: frozenset[str] | None
    area: BaseGeometry | None
    start: datetime | None
    end: datetime | None
    limit: int
    offset: int

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> _SearchQuery:
        if params.get("bbox") not in (None, "") and params.get("intersects") not in (None, ""):
            raise _BadRequestError("give bbox or intersects, not both")
        area = None
        if params.get("bbox") not in (None, ""):
            area = _bbox_geometry(_number_list(params["bbox"], "bbox"))
        elif params.get("intersects") not in (None, ""):
            area = _geometry(params["intersects"])
        start, end = _interval(params.get("datetime"))
        limit = _integer(params.get("limit", _DEFAULT_LIMIT), "limit")
        if not 1 <= limit <= _MAX_LIMIT:
            raise _BadRequestError(f"limit must be between 1 and {_MAX_LIMIT}, got {limit}")
        offset = _integer(params.get("token") or 0, "token")
        if offset < 0:
            raise _BadRequestError(f"invalid token {params.get('token')!r}")
        return cls(
            _string_set(params.get("collections")),
            _string_set(params.get("ids")),
            area,
            start,
            end,
            limit,
            offset,
        )

    def matches(self, item: Mapping[str, Any]) -> bool:
        if self.collections is not None and item.get("collection") not in self.collections:
            return False
        if self.ids is not None and item.get("id") not in self.ids:
            return False
        if self.area is not None:
            footprint = _item_footprint(item)
            if footprint is None or not footprint.intersects(self.area):
                return False
        if self.start is not None or self.end is not None:
            span = _item_interval(item)
            if span is None:
                return False
            if self.end is not None and span[0] > self.end:
                return False
            if self.start is not None and span[1] < self.start:
                return False
        return True


def _string_set(value: Any) -> frozenset[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    raise _BadRequestError(f"expected a list of strings, got {value!r}")


def _number_list(value: Any, name: str) -> list[float]:
    raw = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise _BadRequestError(f"{name} must be numbers, got {value!r}") from None
    return numbers


def _integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadRequestError(f"{name} must be an integer, got {value!r}") from None


def _bbox_geometry(bbox: list[float]) -> BaseGeometry:
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    if len(bbox) != 4:
        raise _BadRequestError(f"bbox needs 4 or 6 numbers, got {len(bbox)}")
    west, south, east, north = bbox
    if south > north:
        raise _BadRequestError(f"bbox south {south} is north of north {north}")
    if west > east:  # crosses the antimeridian
        return shapely.geometry.MultiPolygon(
            [
                shapely.geometry.box(west, south, 180.0, north),
                shapely.geometry.box(-180.0, south, east, north),
            ]
        )
    return shapely.geometry.box(west, south, east, north)


def _geometry(value: Any) -> BaseGeometry:
    try:
        doc = json.loads(value) if isinstance(value, str) else value
        geometry = shapely.geometry.shape(doc)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise _BadRequestError(f"intersects is not a GeoJSON geometry: {e}") from None
    if geometry.is_empty:
        raise _BadRequestError("intersects is empty")
    return geometry


def _interval(value: Any) -> tuple[datetime | None, datetime | None]:
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise _BadRequestError(f"datetime must be a string, got {value!r}")
    if "/" not in value:
        instant = _parse_datetime(value, "datetime")
        return instant, instant
    first, last = value.split("/", 1)
    start = None if first in ("", "..") else _parse_datetime(first, "datetime")
    end = None if last in ("", "..") else _parse_datetime(last, "datetime")
    if start is None and end is None:
        raise _BadRequestError("datetime interval must have at least one closed end")
    if start is not None and end is not None and start > end:
        raise _BadRequestError(f"datetime interval {value!r} ends before it starts")
    return start, end


def _parse_datetime(text: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise _BadRequestError(f"{name} {text!r} is not RFC 3339") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _item_interval(item: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    props = item.get("properties") or {}
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    if not start or not end:
        return None
    return _parse_datetime(start, "item datetime"), _parse_datetime(end, "item datetime")


def _item_footprint(item: Mapping[str, Any]) -> BaseGeometry | None:
    if item.get("geometry"):
        return shapely.geometry.shape(item["geometry"])
    if item.get("bbox"):
        return _bbox_geometry([float(v) for v in item["bbox"]])
    return None


# ---------------------------------------------------------------------------- catalog files


def _walk(start: Path, root: Path) -> list[tuple[Path, dict[str, Any], str | None]]:
    """Documents reachable from ``start`` through child/item links inside ``root``, with
    the id of the collection each was reached through."""
    found: list[tuple[Path, dict[str, Any], str | None]] = []
    seen: set[Path] = set()
    queue: collections.deque[tuple[Path, str | None]] = collections.deque([(start, None)])
    while queue:
        file, parent = queue.popleft()
        if file in seen:
            continue
        seen.add(file)
        doc = json.loads(file.read_text(encoding="utf-8"))
        found.append((file, doc, parent))
        here = doc["id"] if doc.get("type") == "Collection" else parent
        for link in doc.get("links", []):
            if link.get("rel") in ("child", "item"):
                target = _local_target(str(link.get("href", "")), file, root)
                if target is not None and target.is_file():
                    queue.append((target, here))
    return found


def _scan(root: Path) -> list[tuple[Path, dict[str, Any], str | None]]:
    found: list[tuple[Path, dict[str, Any], str | None]] = []
    for file in sorted(root.rglob("*.json")):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and "stac_version" in doc:
            found.append((file, doc, None))
    return found


def _local_target(href: str, base_file: Path, root: Path) -> Path | None:
    """The file under ``root`` an href names (relative to ``base_file``), else None."""
    parts = urlsplit(href)
    if parts.scheme == "file":
        candidate = Path(unquote(parts.path))
    elif parts.scheme or href.startswith("/vsi") or not href:
        return None
    else:
        candidate = Path(href) if Path(href).is_absolute() else base_file.parent / href
    resolved = candidate.resolve()
    return resolved if resolved.is_relative_to(root) else None


def _served_href(href: str, base_file: Path, root: Path, url: str) -> str:
    target = _local_target(href, base_file, root)
    if target is None:
        return href
    return f"{url}/{quote(target.relative_to(root).as_posix())}"


_STRUCTURAL_RELS = frozenset({"self", "root", "parent", "collection", "child", "item", "items"})


def _other_links(doc: Mapping[str, Any], file: Path, root: Path, url: str) -> list[Any]:
    return [
        {**link, "href": _served_href(str(link.get("href", "")), file, root, url)}
        for link in doc.get("links", [])
        if link.get("rel") not in _STRUCTURAL_RELS
    ]


def _rewrite_collection(doc: Mapping[str, Any], file: Path, root: Path, url: str) -> dict[str, Any]:
    cid = quote(str(doc["id"]))
    out = json.loads(json.dumps(doc))
    out["links"] = [
        {"rel": "self", "href": f"{url}/collections/{cid}", "type": _JSON},
        {"rel": "root", "href": f"{url}/", "type": _JSON},
        {"rel": "parent", "href": f"{url}/", "type": _JSON},
        {"rel": "items", "href": f"{url}/collections/{cid}/items", "type": _GEOJSON},
        *_other_links(doc, file, root, url),
    ]
    _rewrite_assets(out, file, root, url)
    return dict(out)


def _rewrite_item(
    doc: Mapping[str, Any], file: Path, root: Path, url: str, parent_collection: str | None
) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    cid = out.get("collection") or parent_collection
    links: list[Any] = [{"rel": "root", "href": f"{url}/", "type": _JSON}]
    if cid is not None:
        out["collection"] = cid
        base = f"{url}/collections/{quote(cid)}"
        links += [
            {"rel": "self", "href": f"{base}/items/{quote(out['id'])}", "type": _GEOJSON},
            {"rel": "parent", "href": base, "type": _JSON},
            {"rel": "collection", "href": base, "type": _JSON},
        ]
    out["links"] = links + _other_links(doc, file, root, url)
    _rewrite_assets(out, file, root, url)
    return dict(out)


def _rewrite_assets(doc: dict[str, Any], file: Path, root: Path, url: str) -> None:
    for asset in (doc.get("assets") or {}).values():
        if isinstance(asset, dict) and isinstance(asset.get("href"), str):
            asset["href"] = _served_href(asset["href"], file, root, url)
