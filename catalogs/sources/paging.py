"""Paging through a STAC API search without being led in circles.

pystac-client follows each page's ``next`` link for as long as there is one. A server that
answers the same ``next`` link again (the same URL, token or body) or the same page again
would keep a search going forever (FAULTS.md §A; issue 12, item 6). :func:`collect_pages`
takes the pages as they come and stops the search, with a ``SourceRefusedError`` (not
retried) naming the API, as soon as a ``next`` link or a non-empty page repeats, or past a
page cap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import SourceRefusedError

__all__ = ["MAX_PAGES", "collect_pages"]

MAX_PAGES = 500
"""pages of one search at most (50,000 items at the 100 a page asked for): a search of the
prefecture over a year has a few hundred items"""


def _next_link(page: Mapping[str, Any]) -> str | None:
    """The page's ``next`` link as a canonical string (href, method, body, headers)."""
    for link in page.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "next":
            fields = {k: link.get(k) for k in ("href", "method", "body", "headers", "merge")}
            return json.dumps(fields, sort_keys=True, default=str)
    return None


def _digest(page: Mapping[str, Any]) -> str | None:
    """A digest of the page's features (collection and id of each, in order); None if empty."""
    feats = page.get("features") or []
    if not feats:
        return None
    keys = [(f.get("collection"), f.get("id")) for f in feats if isinstance(f, Mapping)]
    return hashlib.sha256(json.dumps(keys, default=str).encode()).hexdigest()


def collect_pages(
    pages: Iterable[dict[str, Any]], *, where: str, max_pages: int = MAX_PAGES
) -> list[dict[str, Any]]:
    """Every page of a search, read lazily from ``pages``; SourceError naming ``where`` when
    a ``next`` link or a page repeats (a loop), or after ``max_pages`` pages."""
    out: list[dict[str, Any]] = []
    links: dict[str, int] = {}
    bodies: dict[str, int] = {}
    for number, page in enumerate(pages, start=1):
        if number > max_pages:
            raise SourceRefusedError(
                f"STAC API {where}: the search went on past {max_pages} pages; stopped. "
                "Narrow the AOI or the period"
            )
        digest = _digest(page)
        if digest is not None and digest in bodies:
            raise SourceRefusedError(
                f"STAC API {where}: page {number} repeats page {bodies[digest]} (the same "
                "items again): the server's paging loops; stopped the search"
            )
        link = _next_link(page)
        if link is not None and link in links:
            raise SourceRefusedError(
                f"STAC API {where}: page {number} links to the same next page as page "
                f"{links[link]}: the server's paging loops; stopped the search"
            )
        if digest is not None:
            bodies[digest] = number
        if link is not None:
            links[link] = number
        out.append(page)
    return out
