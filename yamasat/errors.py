"""The one error hierarchy of yamasat.

Every error a user can meet is a :class:`YamasatError`; messages say what was wrong and
what to do. Library errors (rasterio, pystac, requests) are re-raised as one of these with
``raise ... from e`` so the cause stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "INTERNAL_REASON",
    "AOIError",
    "AcquisitionsFailedError",
    "BoundariesMissingError",
    "ConfigError",
    "DaskUnavailableError",
    "EvidenceError",
    "FontMissingError",
    "HrefPolicyError",
    "InputDateError",
    "InvariantError",
    "LoadError",
    "NoDataError",
    "OutputExistsError",
    "ParameterError",
    "PrefectApiLostError",
    "PrefectServerError",
    "RegistryBusyError",
    "RegistryError",
    "RegistryUnavailableError",
    "RunBusyError",
    "SampleArchiveError",
    "SolutionExistsError",
    "SourceError",
    "SourceRefusedError",
    "SourceUnreachableError",
    "StatusTransitionError",
    "UnknownProductError",
    "UnknownRunError",
    "UnknownSolutionError",
    "WebServerError",
    "WriteError",
    "YamasatError",
    "error_chain",
    "reason_of",
    "redact_urls",
]


#: the reason recorded for a failure that is not a :class:`YamasatError` (a bug or a crash)
INTERNAL_REASON = "internal_error"


def error_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and its causes (``__cause__``, else ``__context__``), each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def reason_of(exc: BaseException) -> str:
    """The machine-readable reason of ``exc``: its class's ``reason``, else ``internal_error``."""
    return exc.reason if isinstance(exc, YamasatError) else INTERNAL_REASON


_URL_IN_TEXT_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{1,15})://(?P<auth>[^\s/?#'\"<>@]*@)?"
    r"(?P<rest>[^\s?#'\"<>]*)(?P<query>[?#][^\s'\"<>]*)?"
)
_SECRET_PAIR_RE = re.compile(
    r"\b(sig|signature|token|access_token|se|st|sp|skoid|sktid|ske|sks|skv|code|key|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=[^\s&'\"<>]+",
    re.I,
)


def redact_urls(text: str) -> str:
    """``text`` with every URL's query string, fragment and user-info removed (they may carry
    SAS tokens or keys) and stray ``sig=...``-like pairs masked: for error messages, logs,
    run records and states."""

    def url(m: re.Match[str]) -> str:
        auth = "***@" if m.group("auth") else ""
        query = "?<redacted>" if m.group("query") else ""
        return f"{m.group('scheme')}://{auth}{m.group('rest')}{query}"

    return _SECRET_PAIR_RE.sub(lambda m: f"{m.group(1)}=<redacted>", _URL_IN_TEXT_RE.sub(url, text))


class YamasatError(Exception):
    """Base class of every error yamasat raises on purpose."""

    #: machine-readable failure reason recorded with a failed run (state message, run record)
    reason: str = "error"

    #: process exit status the CLI uses for this kind of error
    exit_code: int = 2


class ConfigError(YamasatError):
    """A configuration file or environment variable is invalid (names file, key and value)."""

    reason = "config_invalid"


class AOIError(YamasatError):
    """An area of interest could not be resolved (unknown name, bad bbox, bad GeoJSON)."""

    reason = "aoi_invalid"


class BoundariesMissingError(AOIError):
    """Municipal boundaries are needed but the configured boundaries file is not available."""

    reason = "boundaries_missing"


class ParameterError(YamasatError):
    """A flow or command parameter has a value it does not accept (names the valid ones)."""

    reason = "bad_parameter"


class InputDateError(YamasatError):
    """A date or period given by the user is malformed, reversed or overlapping."""

    reason = "period_invalid"


class SourceError(YamasatError):
    """A data source is unknown, unreachable or answered with something unusable."""

    reason = "source_failed"
    #: whether trying again later may pass (5xx after retries, a timeout, an incomplete
    #: result); subclasses for answers that will not change say False
    retryable = True


class SourceRefusedError(SourceError):
    """A source answered in a way that trying again cannot change: a 4xx other than 408/429,
    a document that does not parse, a local catalog that is missing or unreadable, paging
    that loops, items in no known layout. Not retried; the message is the source's own."""

    retryable = False


class SourceUnreachableError(SourceError):
    """A remote source cannot be connected to at all (its name does not resolve or the
    connection is refused): not retried, the message names the source and the offline way."""

    reason = "source_unreachable"
    retryable = False


class HrefPolicyError(SourceError):
    """An asset href was refused by the security policy (scheme, host or path)."""

    reason = "href_refused"
    retryable = False


class NoDataError(YamasatError):
    """A search or load found no data for the AOI and period (outcome ``no_data``)."""

    reason = "no_data"

    exit_code = 3


class LoadError(YamasatError):
    """Raster data could not be read (names the URL or item and asset)."""

    reason = "load_failed"


class SampleArchiveError(YamasatError):
    """The embedded sample archive could not be built or is incomplete."""

    reason = "sample_archive"


class RunBusyError(YamasatError):
    """Another run is making the same product and did not finish within the wait."""

    reason = "busy"
    exit_code = 5


class OutputExistsError(YamasatError):
    """An output already exists and overwriting was not asked for."""

    reason = "output_exists"


class RegistryError(YamasatError):
    """The solutions registry refused an operation (names the record and what to do)."""

    reason = "registry_refused"


class RegistryUnavailableError(RegistryError):
    """The registry cannot be opened: unreadable, corrupted, not a database, on a network
    filesystem, or the server is unreachable. Nothing stored is replaced or changed."""

    reason = "registry_unavailable"


class RegistryBusyError(RegistryError):
    """The registry stayed locked by other writers longer than the configured wait."""

    reason = "registry_busy"


class UnknownSolutionError(RegistryError):
    """No solution has this id (the message lists close matches)."""

    reason = "unknown_solution"


class UnknownProductError(RegistryError):
    """No product with this id is registered (the message lists close matches)."""

    reason = "unknown_product"


class UnknownRunError(RegistryError):
    """No run has this id (the message lists close matches)."""

    reason = "unknown_run"


class SolutionExistsError(RegistryError):
    """A solution with this id, or this organisation and normalised name, already exists."""

    reason = "solution_exists"


class StatusTransitionError(RegistryError):
    """A status change that the lifecycle does not allow (names the allowed ones)."""

    reason = "status_transition"


class EvidenceError(RegistryError):
    """A product was refused as evidence: not published, file missing, checksum differs."""

    reason = "evidence_refused"


class WriteError(YamasatError):
    """An output could not be written or failed its read-back check."""

    reason = "write_failed"


class FontMissingError(YamasatError):
    """No font that draws Japanese: quicklooks and the report chart would show boxes."""

    reason = "font_missing"


class DaskUnavailableError(YamasatError):
    """The configured dask scheduler could not be reached or started."""

    reason = "dask_unavailable"


class PrefectServerError(YamasatError):
    """No Prefect server to serve deployments against, or it does not answer."""

    reason = "prefect_server_unavailable"


class PrefectApiLostError(YamasatError):
    """The Prefect API stopped answering during a run, for longer than
    ``orchestration.api_lost_timeout_s`` (names the API and the wait)."""

    reason = "api_lost"
    exit_code = 7
    retryable = False


class WebServerError(YamasatError):
    """The web view cannot be served (the address cannot be bound, the port is in use)."""

    reason = "web_unavailable"


class AcquisitionsFailedError(YamasatError):
    """Some new acquisitions could not be mapped (the reason is that of the first)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvariantError(YamasatError):
    """A condition the code guarantees did not hold: a bug in yamasat, please report it."""

    reason = INTERNAL_REASON
