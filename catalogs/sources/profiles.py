"""Source profiles: how each provider's STAC items name their assets and scale their values.

Earth Search and Planetary Computer publish the same missions under different collection ids
and asset keys (``red`` vs ``B04``, ``scl`` vs ``SCL``). A profile maps our band names onto
them, per product family (``s2`` optical, ``s1`` SAR, ``dem`` terrain), and decides the
scale/offset that turns stored values into physical ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError

__all__ = [
    "PROFILES",
    "Family",
    "Profile",
    "get_profile",
    "scale_offset",
]

S2_BANDS = ("blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl")


@dataclass(frozen=True)
class Family:
    """How one product family is published by a provider."""

    collection: str
    """STAC collection id"""
    assets: Mapping[str, str]
    """our band name -> the provider's asset key"""

    def asset_key(self, band: str) -> str:
        """The provider's asset key of ``band``; SourceError listing the known bands if unknown."""
        try:
            return self.assets[band]
        except KeyError:
            raise SourceError(
                f"band {band!r} is not published in collection {self.collection!r}; "
                f"known bands: {', '.join(self.assets)}"
            ) from None


@dataclass(frozen=True)
class Profile:
    """A provider's layout: one :class:`Family` per product family."""

    name: str
    families: Mapping[str, Family] = field(default_factory=dict)
    needs_signing: bool = False
    """asset hrefs must be signed before reading (Planetary Computer SAS tokens)"""

    def family(self, kind: str) -> Family:
        """The family ``s2``, ``s1`` or ``dem``; SourceError when the provider has none."""
        try:
            return self.families[kind]
        except KeyError:
            raise SourceError(
                f"source profile {self.name!r} offers no {kind!r} data; it offers "
                f"{', '.join(self.families) or 'nothing searchable'}"
            ) from None


_ES_S2 = Family("sentinel-2-c1-l2a", {b: b for b in S2_BANDS})
_PC_S2 = Family(
    "sentinel-2-l2a",
    {
        "blue": "B02",
        "green": "B03",
        "red": "B04",
        "nir": "B08",
        "nir08": "B8A",
        "swir16": "B11",
        "swir22": "B12",
        "scl": "SCL",
    },
)
_PC_S1 = Family("sentinel-1-rtc", {"vv": "vv", "vh": "vh"})
_ES_S1 = Family("sentinel-1-grd", {"vv": "vv", "vh": "vh"})
_DEM = Family("cop-dem-glo-30", {"dem": "data"})

PROFILES: dict[str, Profile] = {
    "earth-search": Profile("earth-search", {"s2": _ES_S2, "s1": _ES_S1, "dem": _DEM}),
    "planetary-computer": Profile(
        "planetary-computer", {"s2": _PC_S2, "s1": _PC_S1, "dem": _DEM}, needs_signing=True
    ),
    # the embedded sample archive: Earth Search optical, Planetary Computer SAR (RTC), GLO-30
    "sample": Profile("sample", {"s2": _ES_S2, "s1": _PC_S1, "dem": _DEM}),
    "jaxa-earth": Profile(
        "jaxa-earth",
        {"dem": Family("JAXA.EORC_ALOS.PRISM_AW3D30.v3.2_global", {"dem": "DSM"})},
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; SourceError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise SourceError(
            f"unknown source profile {name!r}; known profiles: {', '.join(PROFILES)}"
        ) from None


_REFLECTANCE = {"blue", "green", "red", "nir", "nir08", "swir16", "swir22"}


def _baseline(properties: Mapping[str, Any]) -> float | None:
    raw = properties.get("s2:processing_baseline")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def scale_offset(
    band: str, properties: Mapping[str, Any], asset: Mapping[str, Any]
) -> tuple[float, float]:
    """The (scale, offset) turning a stored value of ``band`` into a physical one.

    Sentinel-2 L2A reflectance = DN x 0.0001 - 0.1 for processing baseline >= 04.00 (ESA,
    "Copernicus Sentinel-2 major products upgrade", Jan 2022). Catalogs disagree on how they
    say so, hence this order of evidence:

    1. ``earthsearch:boa_offset_applied: true`` (Earth Search ``sentinel-2-l2a``): the -1000 DN
       offset was already applied to the COGs, so reflectance = DN x 0.0001, whatever
       ``raster:bands`` claims (Element84/earth-search#66, #71);
    2. ``raster:bands[0].scale/offset`` on the asset (Earth Search ``sentinel-2-c1-l2a``);
    3. ``s2:processing_baseline`` >= 04.00 without raster metadata (Planetary Computer):
       scale 0.0001, offset -0.1; older baselines: offset 0.

    Non-reflectance bands use ``raster:bands`` when present, else (1, 0).
    """
    rb = asset.get("raster:bands") or []
    first: Mapping[str, Any] = rb[0] if rb and isinstance(rb[0], Mapping) else {}
    if band in _REFLECTANCE:
        if properties.get("earthsearch:boa_offset_applied") is True:
            return (float(first.get("scale", 1e-4)), 0.0)
        if "scale" in first or "offset" in first:
            return (float(first.get("scale", 1.0)), float(first.get("offset", 0.0)))
        baseline = _baseline(properties)
        return (1e-4, -0.1 if baseline is not None and baseline >= 4.0 else 0.0)
    return (float(first.get("scale", 1.0)), float(first.get("offset", 0.0)))
