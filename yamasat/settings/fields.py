"""Field types of the configuration models and the validators that explain a bad value.

Each validator raises ``ValueError`` with what was expected; pydantic turns it into an
error that :mod:`.problems` words with the file or variable the value came from.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from .redaction import URL_RE

__all__ = [
    "RELATIVE",
    "ConfigDate",
    "ConfigPath",
    "Float",
    "Int",
    "Text",
    "check_bbox",
    "check_bucket",
    "check_database_url",
    "check_host_entry",
    "check_prefecture_code",
    "check_slug",
    "check_threshold",
    "is_url",
    "read_only",
    "to_abs_path",
]

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOSTNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$")
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class _Relative:
    """Marks a field whose relative values resolve against the folder of their layer."""


RELATIVE = _Relative()
"""Metadata of a field (or of the items of a tuple field) holding a relative-capable path."""
Int = Annotated[int, Field(strict=True)]
"""An integer; text such as ``"10"`` is refused."""
Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number (integers accepted); text, ``inf`` and ``nan`` are refused."""
Text = Annotated[str, Field(strict=True)]
"""Text; numbers and booleans are refused."""


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL or a GDAL virtual path (``/vsi...``), not a local path."""
    return bool(URL_RE.match(text)) or text.lower().startswith("/vsi")


def to_abs_path(value: object) -> Path:
    """``value``, a local path written as text, made absolute on the working directory."""
    if not isinstance(value, str | Path):
        raise ValueError(f"expected a path written as text, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise ValueError("expected a path, got an empty string")
    if is_url(text):
        raise ValueError("expected a local path, not a URL or a GDAL virtual path")
    return Path(os.path.abspath(Path(text).expanduser()))


ConfigPath = Annotated[Path, BeforeValidator(to_abs_path), RELATIVE]
"""A local path, stored absolute (outside :func:`load_settings`, relative to the cwd)."""


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(f"malformed date ({e}); expected YYYY-MM-DD") from None
    raise ValueError("malformed date; expected YYYY-MM-DD (ISO 8601), for example 2024-04-01")


ConfigDate = Annotated[date, BeforeValidator(_to_date)]
"""A calendar date written ``YYYY-MM-DD``; a datetime, ``2024-02-30`` or ``20240401`` is
refused. Every date field of the configuration uses it; ranges use :class:`DateRange`."""


def check_bucket(name: str) -> str:
    """``name`` if it is an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')."""
    if not _BUCKET_RE.fullmatch(name) or ".." in name:
        raise ValueError(
            "a bucket name has 3 to 63 lower-case letters, digits, '.' and '-', beginning and "
            f"ending with a letter or digit; got {name!r}"
        )
    return name


def check_slug(name: str) -> str:
    """``name`` if it is a slug (the names of sources and deployments)."""
    if not _SLUG_RE.fullmatch(name):
        raise ValueError(
            "a name must be a slug: lower-case letters, digits and '-', beginning and ending "
            "with a letter or digit (for example 'earth-search')"
        )
    return name


class _ReadOnlyDict(dict[_K, _V]):
    """A dict that refuses changes, so that a frozen model holding one stays frozen."""

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("settings are read-only; load them again with other values instead")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


def read_only(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` as a dict that refuses changes."""
    return _ReadOnlyDict(value)


def check_prefecture_code(value: str) -> str:
    """``value`` if it is a JIS prefecture code '01'..'47'."""
    if not (len(value) == 2 and value.isdigit() and 1 <= int(value) <= 47):
        raise ValueError("expected a 2-digit prefecture code '01'..'47', quoted (Yamaguchi: '35')")
    return value


def check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``bbox`` if it is [west, south, east, north] in degrees, neither swapped nor reversed."""
    west, south, east, north = bbox
    expected = "expected [west, south, east, north] = [lon, lat, lon, lat] in degrees"
    lat_ok = all(-90 <= v <= 90 for v in (south, north))
    if not lat_ok and all(-90 <= v <= 90 for v in (west, east)):
        raise ValueError(f"latitude and longitude look swapped: {expected}")
    if not lat_ok or not all(-180 <= v <= 180 for v in (west, east)):
        raise ValueError(f"outside longitude [-180, 180] or latitude [-90, 90]; {expected}")
    if west >= east:
        raise ValueError(f"west {west} is not less than east {east}: reversed bbox; {expected}")
    if south >= north:
        raise ValueError(f"south {south} is not less than north {north}: reversed bbox; {expected}")
    return bbox


def check_host_entry(value: str) -> str:
    """``value`` lower-cased if it is 'host' or 'host:port' (an allow-list entry)."""
    text = value.strip().lower()
    try:
        ipaddress.ip_address(text)  # a bare IPv6 literal such as ::1
        return text
    except ValueError:
        pass
    shape = "expected 'host' or 'host:port' (IPv6 as '[::1]:8080'), without scheme or path"
    if not text or any(c in text for c in "/\\@?# "):
        raise ValueError(shape)
    try:
        parts = urlsplit("//" + text)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError(shape) from None
    if not host or parts.netloc != text:
        raise ValueError(shape)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(shape) from None
    return text


def check_threshold(value: object) -> str | float:
    """'otsu', or ``value`` as a float if it is a number in [-2, 2]."""
    if value == "otsu":
        return "otsu"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if -2.0 <= float(value) <= 2.0:
            return float(value)
        raise ValueError("a difference of normalised indices lies in [-2, 2]")
    raise ValueError("expected 'otsu' or a number in [-2, 2]")


def check_database_url(value: str | None) -> str | None:
    """``value`` if it is null or looks like a SQLAlchemy URL (``scheme://...``)."""
    if value is not None and not re.match(r"^[a-z][a-z0-9+]*://", value):
        raise ValueError(
            "expected a SQLAlchemy URL such as 'sqlite:////abs/registry.sqlite' or "
            "'postgresql://host/db'"
        )
    return value


def check_url_template(template: str | None, *, public: bool) -> str | None:
    """An object store's https endpoint: an http(s) URL template with ``{key}`` and no field
    but ``{bucket}``; required when the bucket is ``public``. Raises ValueError saying why."""
    if template is None:
        if public:
            raise ValueError("a public bucket needs its https URL template with {key}")
        return None
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise ValueError(f"https {template!r} is not a URL template ({e})") from None
    if "key" not in fields or not fields <= {"key", "bucket"}:
        raise ValueError(f"https {template!r} must contain {{key}} and no field but {{bucket}}")
    parts = urlsplit(template)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"https {template!r} must be an http(s) URL with a host")
    return template
