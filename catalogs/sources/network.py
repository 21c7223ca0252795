"""The network mechanics of reaching sources: timeouts, retries with backoff (logged), and
telling a connection that cannot be made at all from one that may pass if retried."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ...errors import redact_urls

__all__ = ["NetworkPolicy", "retry_strategy", "retrying_session", "unreachable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetworkPolicy:
    """Timeouts and retries for STAC requests."""

    timeout_s: float = 30.0
    """connect and read timeout of each request, seconds"""
    max_retries: int = 5
    """retries on connection errors, 429 and 5xx"""
    backoff_s: float = 1.0
    """first backoff, doubled each retry (with jitter)"""


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error in its cause chain) is a connection that could not be made
    at all: a name that does not resolve or a refused connection (not a reset or a timeout)."""
    import socket

    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, socket.gaierror, ConnectionRefusedError)):
            return True
        reason = getattr(cur, "reason", None)  # urllib3's MaxRetryError keeps it there
        if isinstance(reason, BaseException) and unreachable(reason):
            return True
        args = [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
        if any(unreachable(a) for a in args):  # requests wraps MaxRetryError in args
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def retry_strategy(policy: NetworkPolicy) -> Any:
    """The urllib3 ``Retry`` of ``policy`` (for requests adapters and pystac-client)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError
    from urllib3.util.retry import Retry

    class _Retry(Retry):
        """Retries as configured, except a connection that cannot be made at all (a name
        that does not resolve, a refused connection): retrying it only delays the failure.
        Every retry is logged at INFO: the URL (without its query), why, and the wait."""

        def increment(self, *args: Any, **kwargs: Any) -> Any:
            names = ("method", "url", "response", "error", "_pool", "_stacktrace")
            call = dict(zip(names, args, strict=False)) | kwargs
            error, url, pool = call.get("error"), call.get("url"), call.get("_pool")
            if isinstance(error, NewConnectionError):
                raise MaxRetryError(pool, url, error) from error  # type: ignore[arg-type]
            new = super().increment(*args, **kwargs)
            _log_retry(new, call, policy.max_retries)
            return new

    def _log_retry(new: Any, call: dict[str, Any], most: int) -> None:
        response, error, pool = call.get("response"), call.get("error"), call.get("_pool")
        where = str(call.get("url") or "")
        if pool is not None and where.startswith("/"):
            where = f"{pool.scheme}://{pool.host}:{pool.port}{where}"
        status = getattr(response, "status", None)
        why = f"HTTP {status}" if status else f"{type(error).__name__}: {error}"
        wait = new.get_retry_after(response) if response is not None else None
        if wait is None:
            wait = new.get_backoff_time()
        log.info(
            "retrying %s %s after %s (retry %d of %d), waiting %.1f s",
            call.get("method") or "request", redact_urls(where.split("?", 1)[0]),
            redact_urls(why), len(new.history), most, wait,
        )  # fmt: skip

    return _Retry(
        total=policy.max_retries,
        connect=policy.max_retries,
        read=policy.max_retries,
        status=policy.max_retries,
        backoff_factor=policy.backoff_s,
        backoff_jitter=policy.backoff_s / 4,
        status_forcelist=(408, 429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def retrying_session(policy: NetworkPolicy) -> Any:
    """A ``requests.Session`` that retries connection errors, 429 and 5xx with backoff
    (``policy``), but not a name that does not resolve or a refused connection; pass
    ``timeout=`` on every request."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry_strategy(policy))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
