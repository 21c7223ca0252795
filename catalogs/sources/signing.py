"""Signing of Planetary Computer asset hrefs (short-lived SAS tokens) before they are read.

Items stay unsigned wherever they are kept (task results, checkpoints), so a resumed or late
run never reads with an expired token: :func:`signed_for_reading` signs a copy right before
loading, with the ``planetary-computer`` package. Its tokens are fetched first, one per
storage container, within the network policy's retries and a bounded wait (the package's own
requests have no timeout); a token service that refuses or does not answer is a
:class:`SourceError` naming it. A subscription key, if any, comes from the environment
(``PC_SDK_SUBSCRIPTION_KEY``), never from config.

During the read, :func:`resign_href` signs an href anew with a token fetched afresh, once,
when its token has expired or the store refuses it (403): :func:`read_policy` hands it to
the reader (:mod:`yamasat.processing.read_guard`), with the href policy that decides where
a redirect may lead. Tokens never appear in a message or a log.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pystac

from ...errors import SourceError
from ...processing.read_guard import ReadPolicy
from .hrefs import HrefPolicy, check_href
from .network import NetworkPolicy

__all__ = ["blob_containers", "read_policy", "resign_href", "signed_for_reading"]

_BLOB = ".blob.core.windows.net"
#: tokens with less life left than this are fetched anew before a run reads with them
MIN_TOKEN_TTL_S = 1800


def blob_containers(items: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """(storage account, container) of every Azure Blob asset href in ``items``."""
    found = set()
    for item in items:
        for asset in item.get("assets", {}).values():
            parts = urlsplit(str(asset.get("href", "")))
            if parts.hostname and parts.hostname.endswith(_BLOB):
                container = parts.path.lstrip("/").split("/", 1)[0]
                if container:
                    found.add((parts.hostname[: -len(_BLOB)], container))
    return found


def _prefetch(account: str, container: str, policy: NetworkPolicy) -> None:
    import requests
    from planetary_computer.sas import get_token
    from planetary_computer.settings import Settings

    wait = policy.timeout_s * (policy.max_retries + 1) + policy.backoff_s * 2**policy.max_retries
    where = f"{Settings.get().sas_url}/{account}/{container}"
    pool = cf.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(
        get_token, account, container,
        retry_total=policy.max_retries, retry_backoff_factor=policy.backoff_s,
    )  # fmt: skip
    try:
        future.result(timeout=wait)
    except cf.TimeoutError:
        raise SourceError(
            f"the Planetary Computer token service {where} did not answer within {wait:g} s; "
            "try again later"
        ) from None
    except requests.exceptions.RetryError as e:  # the package's own retries ran out (429/5xx)
        raise SourceError(
            f"the Planetary Computer token service {where} kept refusing ({e}); if it is "
            "rate limiting (429), set PC_SDK_SUBSCRIPTION_KEY to your key, else try later"
        ) from e
    except requests.HTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        hint = (
            "set PC_SDK_SUBSCRIPTION_KEY to your Planetary Computer key"
            if status in (401, 403, 429)
            else "try again later"
        )
        raise SourceError(
            f"the Planetary Computer token service {where} answered HTTP {status}; {hint}"
        ) from e
    except (requests.RequestException, ValueError) as e:
        raise SourceError(f"no SAS token from {where} ({e}); try again later") from e
    finally:
        pool.shutdown(wait=False)


def signed_for_reading(
    items: list[dict[str, Any]], *, needs_signing: bool, policy: NetworkPolicy
) -> list[dict[str, Any]]:
    """``items`` with their Azure Blob asset hrefs signed (a copy), when the source needs it."""
    if not needs_signing or not items:
        return items
    import planetary_computer
    from planetary_computer.sas import TOKEN_CACHE

    # a cached token is reused by the package until its last minute: reading may take longer
    for url, token in list(TOKEN_CACHE.items()):
        if token.ttl() < MIN_TOKEN_TTL_S:
            del TOKEN_CACHE[url]
    for account, container in sorted(blob_containers(items)):
        _prefetch(account, container, policy)  # fills the package's token cache
    out = []
    for d in items:
        item = planetary_computer.sign(pystac.Item.from_dict(d))
        out.append(item.to_dict(include_self_link=False, transform_hrefs=False))
    return out


def resign_href(href: str) -> str | None:
    """``href`` (an Azure Blob URL, signed or not) signed with a token fetched afresh from
    the token service (its cached token dropped); None for any other href."""
    from planetary_computer.sas import TOKEN_CACHE, get_token
    from planetary_computer.settings import Settings

    parts = urlsplit(href)
    host = parts.hostname or ""
    container = parts.path.lstrip("/").split("/", 1)[0]
    if not host.endswith(_BLOB) or not container:
        return None
    account = host[: -len(_BLOB)]
    TOKEN_CACHE.pop(f"{Settings.get().sas_url}/{account}/{container}", None)
    try:
        token = get_token(account, container, retry_total=2, retry_backoff_factor=0.5)
    except Exception as e:  # requests' errors: named without the token
        raise SourceError(
            f"the Planetary Computer token service gave no new token for {account}/"
            f"{container} ({type(e).__name__}); set PC_SDK_SUBSCRIPTION_KEY or try later"
        ) from None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, token.token, ""))


def read_policy(policy: HrefPolicy) -> ReadPolicy:
    """How a run reads its assets: a redirect is followed only to a URL ``policy`` allows,
    and Azure Blob hrefs are signed anew once when their token expires or is refused."""
    return ReadPolicy(allow_url=partial(check_href, policy=policy), resign=resign_href)
