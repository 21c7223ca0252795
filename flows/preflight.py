"""Pre-flight: every input of a product run checked before anything heavy starts.

The CLI calls :func:`preflight` before it starts (or connects to) a Prefect server, so a bad
AOI, a reversed period, a missing catalog, a source host the href policy refuses, an output
folder that cannot be written or is too small, or an unknown solution is refused in about a
second with exit status 2, no server started and no request sent (issue 17, item 3). The flow
checks the same again when it runs (a deployment has no CLI in front of it).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..catalogs.sources.hrefs import check_href
from ..errors import SourceError, WriteError
from ..settings import Settings
from .prepare import Prepared, href_policy, prepare

__all__ = ["BYTES_PER_PIXEL", "Preflight", "preflight"]

BYTES_PER_PIXEL = 24
"""what a product run writes per pixel of its grid at most, staging included: a float32
measure and a likelihood or severity (LERC or DEFLATE, about 4 bytes each uncompressed), the
uint8 classes, overviews (a third more), the staged copy before it is moved into place, and
the dask spill of one float band — rounded up"""


@dataclass(frozen=True)
class Preflight:
    """What the checks found: the prepared run and the room it needs."""

    prepared: Prepared
    needed_bytes: int
    free_bytes: int


def preflight(
    settings: Settings,
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    out: str | Path | None,
    profile: str | None = None,
    family_sources: dict[str, str | None] | None = None,
    solution: str | None = None,
) -> Preflight:
    """Check a run's inputs without any request or Prefect: periods and AOI, the sources
    (local catalogs exist; a URL's host passes the href policy), a writable output folder
    with room for the outputs (estimated from the grid), and the solution id. Raises the
    error of the first problem (exit status 2)."""
    prep = prepare(
        aoi=aoi, before=before, after=after, source=source,
        out=Path(out) if out else None, settings=settings, profile=profile,
        family_sources=family_sources,
    )  # fmt: skip
    policy = href_policy(settings, prep.sources)
    for src in prep.sources.all():
        if src.location.startswith(("http://", "https://")):
            try:
                check_href(src.location, policy)
            except SourceError as e:
                raise SourceError(f"source {src.label} cannot be used: {e}") from e
    needed = _needed_bytes(prep)
    free = _writable_room(prep.out_root)
    if free < needed:
        raise WriteError(
            f"the output folder {prep.out_root} has {free / 1e9:.2f} GB free; a product of "
            f"{prep.aoi.name_en} on the {settings.grid.resolution:g} m grid needs about "
            f"{needed / 1e9:.2f} GB: free some space or choose another --out"
        )
    if solution:
        from .registration import check_solution  # the registry (and Prefect) only when asked

        check_solution(settings, solution)
    return Preflight(prep, needed, free)


def _needed_bytes(prep: Prepared) -> int:
    """Bytes a product of the AOI on the project grid may take (:data:`BYTES_PER_PIXEL`)."""
    w, s, e, n = prep.aoi.geometry_in(prep.settings.grid.crs).bounds
    res = prep.settings.grid.resolution
    pixels = max(1.0, (e - w) / res) * max(1.0, (n - s) / res)
    return int(pixels * BYTES_PER_PIXEL)


def _writable_room(folder: Path) -> int:
    """Free bytes in ``folder`` once it is shown to be writable (created if missing);
    WriteError naming it otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".yamasat-preflight-"):
            pass
        return shutil.disk_usage(folder).free
    except OSError as e:
        raise WriteError(
            f"the output folder {folder} cannot be written ({e.strerror or e}); choose "
            "another --out or fix its permissions"
        ) from e
