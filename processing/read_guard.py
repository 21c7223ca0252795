"""Raster reads that fail loudly and cleanly: odc-stac's reader, guarded.

:class:`GuardedDriver` is the odc-stac reader driver the loader uses. For every source it

* opens assets with the ``GTiff`` driver only (GDAL opens a VRT, or any raster, by its
  content whatever the name, and a VRT can point anywhere);
* asks an http(s) asset for its first bytes first (:mod:`.read_probe`): an HTML page or any
  non-TIFF is refused at once (no retry storm), a redirect is followed only where the href
  policy allows the final URL, and GDAL is handed that URL;
* retries a failed open or read a bounded number of times, with GDAL's cache of the file
  cleared, honouring ``Retry-After`` (GDAL 3.10 does not); re-signs a signed href once when
  its token expired or is refused;
* then raises one :class:`LoadError` naming the item, the asset, the URL (without query
  string: tokens never reach a message) and the cause;
* hands the worker threads and processes the GDAL network options (timeouts, retries,
  proxy) of the environment the load was started in, not odc-stac's defaults.

What the policy is (href policy, signer) comes from :func:`reading`, set by the run.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import rasterio
from odc.loader._rio import RioDriver, RioReader, capture_rio_env

from ..errors import LoadError, redact_urls
from .read_probe import TRANSIENT, Probe, probe

__all__ = [
    "GDAL_READ_OPTIONS",
    "GuardedDriver",
    "ReadPolicy",
    "current_read_policy",
    "is_read_error",
    "reading",
]

log = logging.getLogger(__name__)


class _Redacting(logging.Filter):
    """Rewrites a record's message with URLs' query strings removed: GDAL's messages
    (``HTTP error code: 403 - https://...?<SAS token>``) reach rasterio's loggers verbatim."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        clean = redact_urls(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


#: loggers that repeat GDAL's messages or asset URLs
_REDACTED_LOGGERS = ("rasterio", "rasterio._err", "rasterio._env", "rasterio.env",
                     "rasterio._base", "rasterio._io", "odc.loader._rio", "odc.stac",
                     "urllib3.connectionpool")  # fmt: skip
for _name in _REDACTED_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _Redacting) for f in _logger.filters):
        _logger.addFilter(_Redacting())

#: GDAL options handed to every worker from the environment the load starts in
GDAL_READ_OPTIONS = (
    "GDAL_HTTP_TIMEOUT",
    "GDAL_HTTP_CONNECTTIMEOUT",
    "GDAL_HTTP_LOW_SPEED_TIME",
    "GDAL_HTTP_LOW_SPEED_LIMIT",
    "GDAL_HTTP_MAX_RETRY",
    "GDAL_HTTP_RETRY_DELAY",
    "GDAL_HTTP_PROXY",
    "GDAL_HTTPS_PROXY",
    "GDAL_DISABLE_READDIR_ON_OPEN",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS",
    "GDAL_HTTP_MULTIRANGE",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES",
)
_SHORT_READ_RE = re.compile(r"got (\d+) bytes, expected (\d+)")
_RETRY_AFTER_CAP_S = 30.0
_RESIGN_MARGIN_S = 120.0
_READ_ERRORS = (rasterio.errors.RasterioError, rasterio.errors.WindowEvaluationError)


@dataclass(frozen=True)
class ReadPolicy:
    """How assets are read: what redirects may reach, how signed hrefs are signed anew."""

    allow_url: Callable[[str], object] | None = None
    """raises when the href policy refuses a URL (checked on every redirect target); None:
    redirects must stay on the same scheme and host"""
    resign: Callable[[str], str | None] | None = None
    """a freshly signed copy of a signed href (token fetched anew), or None when the href
    is not one it signs"""
    attempts: int = 3
    """tries of one read (the first included) before it fails"""
    backoff_s: float = 0.5
    """wait before the second try, doubled after each"""


_DEFAULT_POLICY = ReadPolicy()
_POLICY: contextvars.ContextVar[ReadPolicy] = contextvars.ContextVar(
    "yamasat_read_policy",
    default=_DEFAULT_POLICY,
)


@contextlib.contextmanager
def reading(policy: ReadPolicy) -> Iterator[ReadPolicy]:
    """Loads started inside read with ``policy``."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def current_read_policy() -> ReadPolicy:
    """The policy of the loads started now (the default: same-host redirects, no signing)."""
    return _POLICY.get()


class GuardedDriver(RioDriver):
    """odc-stac's rasterio driver, reading through :class:`_Guard` (see the module)."""

    def __init__(self, names: Mapping[str, tuple[str, str]], policy: ReadPolicy) -> None:
        super().__init__()
        self.names = dict(names)
        """unsigned href -> (item id, asset key), to name a failed asset"""
        self.policy = policy

    def capture_env(self) -> dict[str, Any]:
        env: dict[str, Any] = capture_rio_env()
        env.update({k: os.environ[k] for k in GDAL_READ_OPTIONS if os.environ.get(k)})
        return env

    def open(self, src: Any, ctx: Any) -> _GuardedReader:
        return _GuardedReader(src, ctx, self)


class _GuardedReader(RioReader):
    def __init__(self, src: Any, ctx: Any, driver: GuardedDriver) -> None:
        super().__init__(src, ctx)
        self._driver = driver

    def read(
        self, cfg: Any, dst_geobox: Any, *, dst: Any = None, selection: Any = None
    ) -> tuple[tuple[slice, slice], np.ndarray]:
        from .read_gtiff import read_gtiff

        guard = _Guard(self._src.uri, self._driver)
        return guard.run(lambda uri: read_gtiff(uri, self._src, cfg, dst_geobox, dst, selection))


#: final URL of each http(s) asset that probed as a TIFF, per process
_RESOLVED: dict[tuple[str, str], str] = {}
#: signed href -> the same href signed anew (by the first read that found its token stale)
_RENEWED: dict[str, str] = {}
_SIGNING = threading.Lock()
#: why an http(s) asset was refused for good (HTML, not a TIFF, redirect), per process
_REFUSED: dict[tuple[str, str], str] = {}


class _Guard:
    """The attempts at one read of one asset."""

    def __init__(self, uri: str, driver: GuardedDriver) -> None:
        self.uri = uri
        self.policy = driver.policy
        bare = uri.split("?", 1)[0]
        self.item, self.asset = driver.names.get(bare, ("?", "?"))
        self.remote = urlsplit(uri).scheme.lower() in ("http", "https")
        self.resigned = False

    def run(self, read: Callable[[str], Any]) -> Any:
        url = self._fresh(_RENEWED.get(self.uri, self.uri))
        url = self._resolved(url) if self.remote else url
        failure = "the read failed"
        wait = self.policy.backoff_s
        for attempt in range(max(1, self.policy.attempts)):
            started = time.monotonic()
            try:
                with _uncached(url, attempt > 0):
                    return read(_gdal_name(url) if self.remote else url)
            except _READ_ERRORS as e:
                found, failure = self._diagnose(url, e, time.monotonic() - started)
                log.info("read of %s failed: %s", self._where(), failure)
                if found is not None and found.kind == "forbidden" and self._may_resign(url):
                    url = self._resign(url)
                    continue
                if found is not None and found.kind not in TRANSIENT and not found.ok:
                    break
                if found is not None and found.retry_after_s is not None:
                    wait = max(wait, min(found.retry_after_s, _RETRY_AFTER_CAP_S))
            if attempt + 1 < self.policy.attempts:
                time.sleep(wait)
                wait *= 2
        raise self._error(failure)

    # -- before the first attempt -------------------------------------------------------

    def _resolved(self, url: str) -> str:
        """The URL GDAL reads: the final one after allowed redirects, once it probed as a
        TIFF; an HTML page, a non-TIFF or a refused redirect fails here, before GDAL."""
        key = (url, repr(self.policy.allow_url))  # what a redirect may reach differs by policy
        if key in _RESOLVED:
            return _RESOLVED[key]
        if key in _REFUSED:
            raise self._error(_REFUSED[key])
        found = probe(url, allow_url=self.policy.allow_url, timeout_s=_timeout_s())
        if found.kind == "forbidden" and self._may_resign(url):
            url = self._resign(url)
            found = probe(url, allow_url=self.policy.allow_url, timeout_s=_timeout_s())
        if found.kind in ("html", "not_tiff", "redirect_refused", "refused"):
            _REFUSED[key] = found.cause
            raise self._error(found.cause)
        if found.kind == "forbidden" and self.resigned:
            raise self._error(_expired(found.cause))
        if found.ok:
            _RESOLVED[key] = found.url
            return found.url
        return url  # a transient failure: GDAL tries, and the attempts decide

    def _fresh(self, url: str) -> str:
        """``url``, re-signed first when its token has expired or is about to."""
        expiry = _sas_expiry(url)
        soon = expiry is not None and expiry - time.time() < _RESIGN_MARGIN_S
        if soon and self._may_resign(url):
            return self._resign(url)
        return url

    # -- after a failed attempt ---------------------------------------------------------

    def _diagnose(self, url: str, e: BaseException, elapsed: float) -> tuple[Probe | None, str]:
        detail = _gdal_detail(e)
        timeout = _timeout_s()
        if not self.remote:
            return None, f"GDAL could not read it: {detail}"
        found = probe(url, allow_url=self.policy.allow_url, timeout_s=timeout)
        if not found.ok:
            cause = _expired(found.cause) if found.kind == "forbidden" and self.resigned else None
            return found, cause or found.cause
        if elapsed >= 0.9 * timeout:
            return None, f"timed out: the server stalled for {timeout:g} s (GDAL_HTTP_TIMEOUT)"
        short = _SHORT_READ_RE.search(detail)
        if short:
            return None, (
                f"truncated: a block read returned {short.group(1)} of {short.group(2)} "
                "bytes (the file ends early, or the connection kept dropping)"
            )
        if "not recognized as being in a supported file format" in detail:
            return None, "not a GeoTIFF (GDAL's GTiff driver does not recognise it)"
        return None, f"GDAL could not read it: {detail}"

    def _may_resign(self, url: str) -> bool:
        return self.policy.resign is not None and not self.resigned and "?" in url

    def _resign(self, url: str) -> str:
        """``url`` signed anew, once per href and process: reads of other chunks of the
        same asset that failed with the old token take the new one."""
        assert self.policy.resign is not None
        self.resigned = True
        with _SIGNING:
            renewed = _RENEWED.get(self.uri)
            if renewed is not None and renewed != url:
                return renewed
            try:
                fresh = self.policy.resign(url)
            except Exception as e:  # the token service failing is named, never the token
                raise self._error(f"signing anew failed: {redact_urls(str(e))}") from None
            _RENEWED[self.uri] = fresh or url
        return fresh or url

    def _where(self) -> str:
        return f"asset {self.asset!r} of item {self.item!r} ({redact_urls(self.uri)})"

    def _error(self, cause: str) -> LoadError:
        return LoadError(
            f"could not read {self._where()}: {redact_urls(cause)}; the scene cannot be "
            "used: check the source, or run again later if the cause is temporary"
        )


def _expired(cause: str) -> str:
    return f"token expired or refused ({cause}) even after signing anew once"


def _timeout_s() -> float:
    try:
        return float(os.environ.get("GDAL_HTTP_TIMEOUT") or 30)
    except ValueError:
        return 30.0


def _gdal_name(url: str) -> str:
    return url if url.startswith("/vsi") else f"/vsicurl/{url}"


@contextlib.contextmanager
def _uncached(url: str, active: bool) -> Iterator[None]:
    """With ``active``, GDAL forgets what it cached of ``url`` (a 404 or 403 at the last
    open, blocks of a cut read) and asks the server again."""
    if not active or not url.startswith(("http://", "https://")):
        yield
        return
    with rasterio.Env(CPL_VSIL_CURL_NON_CACHED=_gdal_name(url)):
        yield


def _sas_expiry(url: str) -> float | None:
    """The ``se`` (signed expiry) of a SAS-signed URL as a POSIX time, else None."""
    import datetime as dt

    query = dict(parse_qsl(urlsplit(url).query))
    value = query.get("se")
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def _gdal_detail(e: BaseException) -> str:
    """GDAL's most specific message in the chain of ``e`` (its first cause), redacted."""
    messages: list[str] = []
    seen: BaseException | None = e
    while seen is not None and len(messages) < 6:
        messages.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    detail = next((m for m in reversed(messages) if m), str(e))
    return redact_urls(detail)[:300]


def is_read_error(exc: BaseException) -> bool:
    """Whether ``exc`` is GDAL failing to read (rasterio's I/O error), as opposed to a
    file-system error such as no space left while writing."""
    from rasterio.errors import RasterioIOError

    return isinstance(exc, RasterioIOError)
