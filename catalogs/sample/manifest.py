"""What a sample archive contains: :class:`SampleManifest`, written as ``manifest.json``."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import SampleArchiveError
from .params import WorldParams

__all__ = ["MANIFEST_NAME", "EventRecord", "SampleManifest"]

MANIFEST_NAME = "manifest.json"
"""File name of the manifest at the root of an archive."""
FORMAT_VERSION = 1


@dataclass(frozen=True)
class EventRecord:
    """One planted event as recorded in the manifest."""

    name: str
    """``flood``, ``landslide``, ``change`` or ``burn``"""
    date: dt.date
    """day the event happens"""
    description: str
    before: dt.date
    """suggested pre-event acquisition date"""
    after: dt.date
    """suggested post-event acquisition date"""
    sensor: str
    """``s1`` or ``s2``: the sensor of ``before``/``after``"""
    parts: int
    """number of separate polygons"""
    area_m2: float
    """area of the ground truth on the project grid (EPSG:6671), m²"""
    raster: str
    """ground-truth COG, relative to the archive root"""
    vector: str
    """ground-truth GeoJSON (EPSG:4326), relative to the archive root"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date": self.date.isoformat(),
            "description": self.description,
            "before": self.before.isoformat(),
            "after": self.after.isoformat(),
            "sensor": self.sensor,
            "parts": self.parts,
            "area_m2": self.area_m2,
            "raster": self.raster,
            "vector": self.vector,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventRecord:
        return cls(
            name=d["name"],
            date=dt.date.fromisoformat(d["date"]),
            description=d["description"],
            before=dt.date.fromisoformat(d["before"]),
            after=dt.date.fromisoformat(d["after"]),
            sensor=d["sensor"],
            parts=int(d["parts"]),
            area_m2=float(d["area_m2"]),
            raster=d["raster"],
            vector=d["vector"],
        )


@dataclass(frozen=True)
class SampleManifest:
    """The contents of a sample archive: where, which seed, which dates, which events."""

    bbox: tuple[float, float, float, float]
    """W, S, E, N degrees"""
    seed: int
    s2_dates: tuple[dt.date, ...]
    """Sentinel-2 acquisition dates, in order"""
    s1_dates: tuple[dt.date, ...]
    """Sentinel-1 acquisition dates, in order (one relative orbit)"""
    events: tuple[EventRecord, ...]
    """the planted events present in the archive"""
    truth: dict[str, str] = field(hash=False)
    """truth raster of each event (and ``land_cover``), relative to the archive root"""
    items: dict[str, int] = field(hash=False)
    """number of items per collection"""
    cloudy_date: dt.date | None = None
    """the mostly cloudy Sentinel-2 date (> 70 % cloud), if any"""
    project_crs: str = "EPSG:6671"
    """CRS of the truth rasters"""
    synthetic: bool = True
    """always True: the archive is synthetic"""
    params: WorldParams | None = None
    """the scene parameters of a varied world; None: the demo world's (not written)"""

    @property
    def world_params(self) -> WorldParams:
        """The scene parameters of the archive's world (the demo's when none recorded)."""
        return self.params or WorldParams()

    def event(self, name: str) -> EventRecord:
        """The record of event ``name``."""
        for e in self.events:
            if e.name == name:
                return e
        names = ", ".join(e.name for e in self.events)
        raise SampleArchiveError(f"the sample archive has no event {name!r}; it has: {names}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "synthetic": self.synthetic,
            "bbox": list(self.bbox),
            "seed": self.seed,
            "project_crs": self.project_crs,
            "s2_dates": [d.isoformat() for d in self.s2_dates],
            "s1_dates": [d.isoformat() for d in self.s1_dates],
            "cloudy_date": self.cloudy_date.isoformat() if self.cloudy_date else None,
            "events": [e.to_dict() for e in self.events],
            "truth": dict(sorted(self.truth.items())),
            "items": dict(sorted(self.items.items())),
        } | ({"world_params": self.params.to_dict()} if self.params is not None else {})

    def to_json(self) -> str:
        """The manifest as pretty JSON text (stable key order, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SampleManifest:
        """Parse :meth:`to_json` output."""
        try:
            d = json.loads(text)
            if d.get("format_version") != FORMAT_VERSION:
                raise SampleArchiveError(
                    f"unsupported manifest format {d.get('format_version')!r}; rebuild the archive"
                )
            w, s, e, n = (float(v) for v in d["bbox"])
            return cls(
                bbox=(w, s, e, n),
                seed=int(d["seed"]),
                s2_dates=tuple(dt.date.fromisoformat(v) for v in d["s2_dates"]),
                s1_dates=tuple(dt.date.fromisoformat(v) for v in d["s1_dates"]),
                events=tuple(EventRecord.from_dict(v) for v in d["events"]),
                truth=dict(d["truth"]),
                items={k: int(v) for k, v in d["items"].items()},
                cloudy_date=dt.date.fromisoformat(d["cloudy_date"])
                if d.get("cloudy_date")
                else None,
                project_crs=d.get("project_crs", "EPSG:6671"),
                synthetic=bool(d.get("synthetic", True)),
                params=WorldParams.from_dict(d["world_params"]) if "world_params" in d else None,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SampleArchiveError(
                f"the sample manifest is malformed ({e}); rebuild the archive"
            ) from e

    @classmethod
    def read(cls, root: Path | str) -> SampleManifest:
        """Read ``<root>/manifest.json``."""
        path = Path(root) / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise SampleArchiveError(
                f"no sample manifest at {path}: build the archive first (yamasat sample build)"
            ) from e
        return cls.from_json(text)
