"""Layouts and profiles: how providers' STAC items name their assets and scale their values.

Earth Search and Planetary Computer publish the same missions under different collection ids
and asset keys (``red`` vs ``B04``, ``scl`` vs ``SCL``). A :class:`Family` (a layout) maps our
band names onto one collection's asset keys, for one data family (``s2`` optical, ``s1`` SAR,
``dem`` terrain, ``rainfall``). :data:`LAYOUTS` lists every known layout per family: a catalog
is read per collection, and the collection id with the items' asset keys decide the layout
(:func:`layout_of`), so one catalog may mix providers' layouts. A :class:`Profile` is a named
choice of one layout per family, for a source whose layout is known in advance (the configured
services) or forced with ``--profile``. :func:`scale_offset` decides the scale/offset that
turns stored values into physical ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import SourceError, SourceRefusedError

__all__ = [
    "FAMILIES",
    "LAYOUTS",
    "PROFILES",
    "Family",
    "Profile",
    "collections_for",
    "get_profile",
    "layout_of",
    "scale_offset",
]

FAMILIES = ("s2", "s1", "dem", "rainfall")
"""the data families a flow may draw from different sources"""

S2_BANDS = ("blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl")


@dataclass(frozen=True)
class Family:
    """How one product family is published by a provider."""

    collection: str
    """STAC collection id"""
    assets: Mapping[str, str]
    """our band name -> the provider's asset key"""
    provider: str = ""
    """whose layout this is (for messages)"""

    def fits(self, collection: str | None, asset_keys: Collection[str]) -> bool:
        """Whether items of ``collection`` with ``asset_keys`` follow this layout."""
        return collection == self.collection and all(k in asset_keys for k in self.assets.values())

    def asset_key(self, band: str) -> str:
        """The provider's asset key of ``band``; SourceError listing the known bands if unknown."""
        try:
            return self.assets[band]
        except KeyError:
            raise SourceRefusedError(
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
            raise SourceRefusedError(
                f"source profile {self.name!r} offers no {kind!r} data; it offers "
                f"{', '.join(self.families) or 'nothing searchable'}"
            ) from None


_ES_S2 = Family("sentinel-2-c1-l2a", {b: b for b in S2_BANDS}, "Earth Search")
# Earth Search's older collection: same keys, an offset flag that is not always right
_ES_S2_L2A = Family("sentinel-2-l2a", {b: b for b in S2_BANDS}, "Earth Search")
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
    "Planetary Computer",
)
_PC_S1 = Family("sentinel-1-rtc", {"vv": "vv", "vh": "vh"}, "Planetary Computer")
_ES_S1 = Family("sentinel-1-grd", {"vv": "vv", "vh": "vh"}, "Earth Search")
_DEM = Family("cop-dem-glo-30", {"dem": "data"}, "Copernicus GLO-30")
_JAXA_DEM = Family("JAXA.EORC_ALOS.PRISM_AW3D30.v3.2_global", {"dem": "DSM"}, "JAXA Earth")
_JAXA_RAIN = Family(
    "JAXA.EORC_GSMaP_standard.Gauge.00Z-23Z.v6_daily", {"rainfall": "PRECIP"}, "JAXA Earth"
)

LAYOUTS: dict[str, tuple[Family, ...]] = {
    "s2": (_ES_S2, _ES_S2_L2A, _PC_S2),
    "s1": (_PC_S1, _ES_S1),
    "dem": (_DEM, _JAXA_DEM),
    "rainfall": (_JAXA_RAIN,),
}
"""every known layout per family, in order of preference (``sentinel-2-c1-l2a`` before the
older ``sentinel-2-l2a``; RTC before GRD)"""

PROFILES: dict[str, Profile] = {
    "earth-search": Profile("earth-search", {"s2": _ES_S2, "s1": _ES_S1, "dem": _DEM}),
    "planetary-computer": Profile(
        "planetary-computer", {"s2": _PC_S2, "s1": _PC_S1, "dem": _DEM}, needs_signing=True
    ),
    # Earth Search optical, Planetary Computer SAR (RTC), GLO-30 (the sample archive's mix)
    "sample": Profile("sample", {"s2": _ES_S2, "s1": _PC_S1, "dem": _DEM}),
    "jaxa-earth": Profile("jaxa-earth", {"dem": _JAXA_DEM, "rainfall": _JAXA_RAIN}),
}


def collections_for(family: str) -> list[str]:
    """The collection ids that may hold ``family``, in order of preference."""
    if family not in LAYOUTS:
        raise SourceError(f"unknown data family {family!r}; known: {', '.join(LAYOUTS)}")
    return list(dict.fromkeys(f.collection for f in LAYOUTS[family]))


def layout_of(family: str, items: Sequence[Any]) -> Family:
    """The layout of ``family`` that ``items`` (pystac Items or item dicts, of one collection)
    follow, decided by their collection id and asset keys; SourceError naming the collection
    and the keys that are missing when none fits."""
    if not items:
        raise SourceError(f"no items to tell the layout of family {family!r} from")
    collection, keys = _collection_and_keys(items[0])
    for fam in LAYOUTS.get(family, ()):
        if fam.fits(collection, keys):
            return fam
    same = [f for f in LAYOUTS.get(family, ()) if f.collection == collection]
    if same:
        wants = "; ".join(
            f"{f.provider}: {', '.join(sorted(set(f.assets.values()) - set(keys)))}" for f in same
        )
        raise SourceRefusedError(
            f"items of collection {collection!r} lack the assets of every known {family} "
            f"layout (missing {wants}; they have {', '.join(sorted(keys))})"
        )
    raise SourceRefusedError(
        f"collection {collection!r} is not a known {family!r} layout; known collections: "
        f"{', '.join(collections_for(family))} (or force one with --profile)"
    )


def _collection_and_keys(item: Any) -> tuple[str | None, Collection[str]]:
    if isinstance(item, Mapping):
        return item.get("collection"), set(item.get("assets", {}))
    return item.collection_id, set(item.assets)


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
