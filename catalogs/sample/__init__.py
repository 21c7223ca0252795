"""The embedded sample archive: a deterministic synthetic world and its STAC/COG archive.

``build_sample(out)`` writes, without network or keys, an archive that looks to a loader
like the real sources (Earth Search Sentinel-2 L2A and Copernicus DEM, Planetary Computer
Sentinel-1 RTC) over the Suō-nada coast across 132°E, with planted events (flood,
landslides, a new solar farm, a burn scar) and their ground truth. :class:`World` renders
the same scene on any grid, for tests and evaluation. Everything is labelled synthetic.

Example::

    from pathlib import Path
    from yamasat.catalogs.sample import World, build_sample
    manifest = build_sample(Path("sample"))
    world = World(manifest.seed, manifest.bbox)
    truth = world.truth(world.project_geobox(), "flood")

``build_sample(out, seed=s, vary=True)`` draws the scene parameters (clouds, speckle,
relief, phenology, event sizes; :class:`WorldParams`, :data:`RANGES`) from documented
ranges by seed, so each seed is a different world; the default is the demo world.
"""

from __future__ import annotations

from .build import Progress, build_sample
from .causes import CAUSE_CODES, CAUSE_NAMES
from .events import Event
from .landscape import BARE, CLASS_NAMES, FOREST, PADDY, URBAN, WATER
from .manifest import EventRecord, SampleManifest
from .params import RANGES, Range, WorldParams
from .schedule import EVENT_NAMES, S1_SCHEDULE, S2_SCHEDULE
from .spectra import BANDS
from .stac_collections import CoreOnlyValidator
from .world import DEFAULT_BBOX, DEFAULT_SEED, World

__all__ = [
    "BANDS",
    "BARE",
    "CAUSE_CODES",
    "CAUSE_NAMES",
    "CLASS_NAMES",
    "DEFAULT_BBOX",
    "DEFAULT_SEED",
    "EVENT_NAMES",
    "FOREST",
    "PADDY",
    "RANGES",
    "S1_SCHEDULE",
    "S2_SCHEDULE",
    "URBAN",
    "WATER",
    "CoreOnlyValidator",
    "Event",
    "EventRecord",
    "Progress",
    "Range",
    "SampleManifest",
    "World",
    "WorldParams",
    "build_sample",
]
