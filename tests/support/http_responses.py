"""The HTTP answer :mod:`tests.support.rangeserver` and :mod:`tests.support.stacapi` share.

:class:`Response` is what a route hands back to :mod:`tests.support.rangeserver`'s handler;
:func:`json_response` and :func:`error_response` build the JSON ones, and a route raises
:class:`BadRequestError` for a request it rejects with 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "GEOJSON_TYPE",
    "JSON_TYPE",
    "BadRequestError",
    "Response",
    "error_response",
    "json_response",
]

GEOJSON_TYPE = "application/geo+json"
JSON_TYPE = "application/json"


class BadRequestError(Exception):
    """A STAC API request the server rejects with 400."""


@dataclass
class Response:
    """An answer ready to send: status, headers and a body or a file span."""

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


def json_response(status: int, doc: Any, content_type: str = JSON_TYPE) -> Response:
    body = json.dumps(doc).encode()
    return Response(status, {"Content-Type": content_type}, body, json_doc=doc)


def error_response(status: int, code: str, description: str) -> Response:
    return json_response(status, {"code": code, "description": description})
