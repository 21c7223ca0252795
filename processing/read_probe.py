"""What is at an asset URL, asked the way a careful client asks: one small range request.

GDAL reports failed reads without the HTTP status (a 429 or a cut connection both end as
"TIFFFillTile: got 0 bytes"), follows redirects to any host by itself, and opens whatever
format the bytes are. :func:`probe` asks for the first bytes of an asset with redirects
off, so the reader can (before GDAL opens it, and again after GDAL failed) tell the user
what is wrong: not found, access denied, rate limited, a server error, an HTML page or
another non-TIFF format, a redirect off the allowed hosts, a timeout.

Redirects are followed here, one hop at a time, only where ``allow_url`` (the href policy)
allows the target, and the reader then hands GDAL the final URL. Requests go through the
same proxy as GDAL's (``GDAL_HTTP_PROXY`` unless ``NO_PROXY`` names the host).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import redact_urls

__all__ = ["TRANSIENT", "Probe", "probe"]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_HOPS = 5
_SNIFF = 64

#: kinds of failure that another attempt may cure (the others are refused at once)
TRANSIENT = frozenset(
    {"not_found", "forbidden", "rate_limited", "server_error", "timeout", "unreachable"}
)


@dataclass(frozen=True)
class Probe:
    """The answer at an asset URL."""

    kind: str
    """``ok``, or what is wrong: ``not_found``, ``forbidden``, ``rate_limited``,
    ``server_error``, ``timeout``, ``unreachable``, ``html``, ``not_tiff``,
    ``redirect_refused``, ``refused``"""
    cause: str
    """a short, redacted description for the user"""
    url: str
    """the URL that answered (after the redirects allowed)"""
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def probe(url: str, *, allow_url: Callable[[str], object] | None, timeout_s: float) -> Probe:
    """Ask ``url`` for its first bytes (redirects followed only where allowed)."""
    import requests

    current = url
    for _ in range(_MAX_HOPS + 1):
        try:
            with requests.get(
                current,
                headers={"Range": f"bytes=0-{_SNIFF - 1}", "Accept-Encoding": "identity"},
                allow_redirects=False,
                timeout=(timeout_s, timeout_s),
                proxies=_proxies(current),
                stream=True,
            ) as r:
                head = r.raw.read(_SNIFF, decode_content=False) if r.status_code < 300 else b""
                status, headers = r.status_code, r.headers
        except requests.Timeout:
            return Probe("timeout", f"no answer within {timeout_s:g} s (timed out)", current)
        except requests.RequestException as e:
            return Probe("unreachable", f"connection failed ({_short(e)})", current)
        if status in _REDIRECTS:
            target = urljoin(current, headers.get("Location", ""))
            refusal = _redirect_refusal(current, target, allow_url)
            if refusal:
                return Probe("redirect_refused", refusal, current)
            current = target
            continue
        return _judge(status, headers, head, current)
    return Probe("refused", f"more than {_MAX_HOPS} redirects", current)


def _judge(status: int, headers: object, head: bytes, url: str) -> Probe:
    get = getattr(headers, "get", lambda *_: None)
    if status in (404, 410):
        return Probe("not_found", f"not found (HTTP {status}): deleted or moved", url)
    if status in (401, 403):
        return Probe("forbidden", f"access denied (HTTP {status})", url)
    if status == 429:
        wait = _seconds(get("Retry-After"))
        shown = f", Retry-After {wait:g} s" if wait is not None else ""
        return Probe("rate_limited", f"rate limited (HTTP 429{shown})", url, wait)
    if status >= 500:
        return Probe("server_error", f"server error (HTTP {status})", url)
    if status >= 300:
        return Probe("refused", f"unexpected answer HTTP {status}", url)
    ctype = str(get("Content-Type") or "").lower()
    if "html" in ctype or head.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        return Probe(
            "html", "an HTML page, not a GeoTIFF (a login or error page served with 200)", url
        )
    if not head.startswith(_TIFF_MAGIC):
        what = "a VRT (XML) document" if head.lstrip().startswith(b"<") else "not a TIFF file"
        return Probe("not_tiff", f"{what}, not a GeoTIFF (first bytes {head[:8]!r})", url)
    return Probe("ok", "a TIFF file", url)


def _redirect_refusal(
    current: str, target: str, allow_url: Callable[[str], object] | None
) -> str | None:
    """Why the redirect from ``current`` to ``target`` is refused, or None."""
    shown = redact_urls(target)
    if allow_url is None:
        a, b = urlsplit(current), urlsplit(target)
        if (a.scheme, a.netloc) == (b.scheme, b.netloc):
            return None
        return f"redirected off the allowed hosts, to {shown} (only same-host redirects allowed)"
    try:
        allow_url(target)
    except Exception as e:  # the href policy's refusal (HrefPolicyError) says why
        return f"redirected off the allowed hosts, to {shown}: {redact_urls(str(e))}"
    return None


def _proxies(url: str) -> dict[str, str]:
    proxy = os.environ.get("GDAL_HTTP_PROXY")
    host = urlsplit(url).hostname or ""
    from requests.utils import should_bypass_proxies

    if not proxy or not host or should_bypass_proxies(url, no_proxy=None):
        return {}
    return {"http": proxy, "https": os.environ.get("GDAL_HTTPS_PROXY", proxy)}


def _seconds(value: object) -> float | None:
    if value is None or not re.fullmatch(r"\s*\d+(\.\d+)?\s*", str(value)):
        return None  # an HTTP date is not worth parsing: the backoff applies
    return float(str(value))


def _short(e: BaseException) -> str:
    text = redact_urls(str(e))
    return text if len(text) < 300 else text[:297] + "..."
