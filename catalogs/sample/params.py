"""The scene parameters of a sample world: the demo's constants, or a draw from ranges.

:class:`WorldParams` holds every knob of the generator that a world may turn: clouds,
shadows and haze; SAR speckle; terrain relief and illumination; phenology and paddy
irrigation timing; flood size and position; landslide count and size; clear-cuts, harvest
and construction; wet fields, wind on water, radar layover and shadow, and forest thinning
(the last two groups in varied worlds only). ``WorldParams()``
is the demo world (its defaults are the generator's historical constants, so the default
archive stays byte-identical); :meth:`WorldParams.draw` picks a world from :data:`RANGES`
for a seed, so the accuracy benchmark can measure products over many worlds, not one.

Each range says where it was chosen from (:attr:`Range.source`). They aim to be as wide
as real scenes on the Yamaguchi coast of the Seto Inland Sea, not as wide as possible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ...errors import SampleArchiveError
from .noise import rng_for
from .schedule import S2_SCHEDULE

__all__ = ["RANGES", "Range", "WorldParams"]


@dataclass(frozen=True)
class Range:
    """A documented range a world parameter is drawn from (uniform unless ``log``)."""

    lo: float
    hi: float
    unit: str
    source: str
    """where the range was chosen from"""
    log: bool = False
    """draw uniformly in log space (for sizes spanning orders of magnitude)"""
    integer: bool = False

    def draw(self, u: float) -> float:
        """The value at quantile ``u`` (0..1) of the range."""
        if self.log:
            return math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        value = self.lo + u * (self.hi - self.lo)
        return float(math.floor(value + 0.5)) if self.integer else value


RANGES: dict[str, Range] = {
    "cloud_fraction": Range(
        0.0,
        0.60,
        "fraction of the bbox, each S2 date",
        "issue 13 (cloud cover 0-60 %, as on usable scenes over Yamaguchi; the rainy season, "
        "梅雨 in June-July, is the cloudiest); the demo has 5-24 % and one 86 % date",
    ),
    "clear_events": Range(
        0.0,
        4.0,
        "depth of the cloud clearing over events (0: none)",
        "the demo clears clouds off its events completely (4.0); real clouds do not, so a "
        "world may leave events under cloud",
    ),
    "cloud_height_m": Range(
        500.0,
        3000.0,
        "m",
        "tops of fair-weather cumulus and stratocumulus over western Japan in summer; sets "
        "how far shadows fall from their clouds (the demo: 1500 m)",
    ),
    "shadow_factor": Range(
        0.2,
        0.5,
        "fraction of the surface signal left in shadow",
        "diffuse skylight is 10-30 % of global irradiance under clear skies (more in haze); "
        "the demo: 0.35",
    ),
    "cirrus_max": Range(
        0.0,
        0.15,
        "fraction of the bbox",
        "thin cirrus flagged SCL 10 in Sen2Cor; the demo caps it at 6 %",
    ),
    "haze": Range(
        0.0,
        0.03,
        "reflectance added in blue at most",
        "unflagged haze left by atmospheric correction: Sen2Cor surface-reflectance errors "
        "of 0.01-0.03 in blue with aerosol (ACIX, Doxani et al. 2018, Remote Sensing "
        "10(2):352); spring Asian dust and summer haze over the Seto Inland Sea",
    ),
    "s1_enl": Range(
        3.0,
        10.0,
        "looks",
        "issue 13 (ENL 3-10); Sentinel-1 IW GRDH has ENL 4.4 (the sar:looks_equivalent_number "
        "of Planetary Computer RTC items, the demo's value), more after multi-looking",
    ),
    "relief": Range(
        0.6,
        1.4,
        "x the demo's hill height",
        "the hills behind the Shūnan-Hikari coast rise to a few hundred metres within 5-10 km "
        "of the shore (GSI topographic maps); the demo's hills reach about 600 m",
    ),
    "illumination_k": Range(
        0.3,
        0.9,
        "exponent of cos i / cos z",
        "Minnaert-type constants for forested terrain (0.3-0.9, e.g. Ekstrand 1996, "
        "PE&RS 62(2)); the demo damps the cosine with 0.5 (Teillet et al. 1982)",
    ),
    "forest_amplitude": Range(
        0.03,
        0.10,
        "vegetation fraction",
        "seasonal NDVI swing of evergreen conifer plantations (small) to deciduous broadleaf "
        "(larger) on the Chūgoku hills; the demo: 0.06",
    ),
    "forest_peak_doy": Range(
        190.0,
        220.0,
        "day of year",
        "full leaf in July-early August; the demo: 205",
    ),
    "paddy_shift_days": Range(
        -10.0,
        15.0,
        "days",
        "transplanting in Yamaguchi runs from late May (early varieties) to mid June "
        "(e.g. きぬむすめ); the demo floods its paddies from mid May",
    ),
    "flood_width": Range(
        0.4,
        1.6,
        "x the demo's flood half-width (440 m)",
        "valley-floor floods of small Seto Inland Sea rivers, from a narrow overflow to the "
        "whole floodplain (as in the July 2009 heavy rain in Yamaguchi)",
    ),
    "flood_length_m": Range(
        800.0,
        4000.0,
        "m along the river",
        "from a local overflow to a reach of a few km; the demo: 3300 m",
    ),
    "flood_start": Range(
        0.0,
        1.0,
        "position along the eligible reach",
        "anywhere on the valley floor; the demo starts at the lowest eligible point",
    ),
    "landslide_count": Range(
        3.0,
        15.0,
        "scars",
        "shallow landslides per few km² of hillside after heavy rain (the 2009 Hōfu debris "
        "flows left tens per km² locally); the demo: 10",
        integer=True,
    ),
    "landslide_area_ha": Range(
        0.1,
        5.0,
        "ha per scar",
        "issue 13 (0.1-5 ha); shallow landslides in Japan are mostly 0.01-1 ha with a tail "
        "to several ha; the demo's scars are 0.6-2 ha",
        log=True,
    ),
    "landslide_elongation": Range(
        1.5,
        4.0,
        "length / width",
        "shallow landslide scars are elongated downslope, typically 2-4 times longer than wide",
    ),
    "clearcut_count": Range(
        2.0,
        8.0,
        "clear-cut blocks of 0.5-5 ha (half in late July, half in early September)",
        "plantation forestry on the Chūgoku hills: felling units of a few ha, national forests "
        "cap a unit at 5 ha (Forestry Agency, 森林・林業白書); a few per 25 km² a season",
        integer=True,
    ),
    "harvest_count": Range(
        1.0,
        6.0,
        "paddy blocks of 0.3-2 ha harvested in early September",
        "early rice (コシヒカリ) is cut from late August to mid September in Yamaguchi, later "
        "varieties in October: some fields are stubble by the autumn image, most are not",
        integer=True,
    ),
    "construction_count": Range(
        1.0,
        3.0,
        "sites of 0.3-3 ha graded in early September",
        "new housing, logistics and solar sites near the Shūnan-Hikari towns",
        integer=True,
    ),
    # confounders that are no event's truth (:mod:`.confounders`), drawn after the above
    "wet_soil_count": Range(
        2.0,
        8.0,
        "wet fields of 0.3-3 ha within 1.5 km of the flood, 07-06 to 07-11",
        "the rain that floods a valley floor soaks the fields around it for days; paddies and "
        "bare fields of the Shūnan-Hikari plain are 0.3-3 ha blocks (chosen, not measured)",
        integer=True,
    ),
    "wet_soil_db": Range(
        1.0,
        4.0,
        "dB of γ⁰ (up; down on the one field in four that is waterlogged and smooth)",
        "C-band backscatter of bare soil rises about 0.2-0.3 dB per % volumetric moisture "
        "(Ulaby, Moore & Fung, Microwave Remote Sensing vol. III, 1986; Ulaby et al. 1978), "
        "so 2-6 dB from dry to wet bare soil, less under a crop canopy; smooth waterlogged "
        "fields reflect specularly and darken",
    ),
    "wet_soil_darkening": Range(
        0.10,
        0.30,
        "fraction of the soil's SWIR reflectance lost (NIR 0.8, visible 0.6 of it)",
        "issue 13 (wet soil 10-30 % darker); soil reflectance falls with moisture at all "
        "wavelengths, most in the SWIR water-absorption bands (Lobell & Asner 2002, Soil Sci. "
        "Soc. Am. J. 66; Ångström 1925)",
    ),
    "water_wind_fraction": Range(
        0.0,
        0.5,
        "share of the flood and inland water roughened on the flood's S1 pass",
        "a storm's wind lingers patchily over open water; banks, embankments and trees "
        "shelter much of a narrow flood (chosen, not measured)",
    ),
    "water_wind_db": Range(
        2.0,
        6.0,
        "dB of γ⁰ up on roughened water",
        "C-band VV σ⁰ of water at 30-45° incidence rises from about -22 dB near calm to -17 .. "
        "-14 dB at 4-7 m/s (CMOD5, Hersbach et al. 2007, J. Geophys. Res. 112; ESA Sentinel-1 "
        "User Guide: wind on water); a few dB over a short-fetch flood",
    ),
    "s1_incidence_deg": Range(
        30.0,
        45.0,
        "degrees (local incidence on flat ground)",
        "Sentinel-1 IW spans 29.1-46.0° from near to far range (ESA Sentinel-1 User Guide); "
        "where the AOI falls in the swath",
    ),
    "layover_db": Range(
        2.0,
        6.0,
        "dB of γ⁰ up in layover",
        "layover folds the returns of several ground cells into one and terrain flattening "
        "(Small 2011, IEEE TGRS 49(8)) does not undo it: bright by a few dB (chosen, not "
        "measured)",
    ),
    "s1_noise_floor_db": Range(
        -27.0,
        -23.0,
        "dB, γ⁰ in radar shadow (both polarisations)",
        "no signal comes back from shadow, only noise: Sentinel-1 IW NESZ is -22 dB or better, "
        "typically -23 to -26 dB across the sub-swaths (ESA Sentinel-1 User Guide / "
        "product specification)",
    ),
    "thinning_count": Range(
        2.0,
        8.0,
        "thinned forest blocks of 1-10 ha (half late July, half early September)",
        "thinning (間伐) is the commonest plantation work on the Chūgoku hills, in blocks of "
        "a few ha (Forestry Agency, 森林・林業白書)",
        integer=True,
    ),
    "thinning_canopy_removed": Range(
        0.12,
        0.40,
        "fraction of the green canopy felled (left on the ground as slash)",
        "stem-count thinning rates of 20-35 % are usual, up to 40 % in 強度間伐 (Forestry "
        "Agency thinning guidance); removing 0.12-0.40 of the canopy lowers NDVI by about "
        "0.05-0.2 (issue 13)",
    ),
    "flood_paddy_ponds": Range(
        0.0,
        3.0,
        "ponded paddy blocks of 0.5-5 ha away from the river, with the flood",
        "inland (pluvial) flooding, 内水氾濫: rain ponding on low paddies behind embankments "
        "that drain slowly, as in the July 2009 heavy rain in Yamaguchi; the small local "
        "floods issue 13 asks for beside the river's",
        integer=True,
    ),
}
"""The ranges :meth:`WorldParams.draw` picks from, by parameter name."""

_DEMO_CLOUDS = tuple(a.cloud_fraction for a in S2_SCHEDULE)


@dataclass(frozen=True)
class WorldParams:
    """Scene parameters of one sample world. The defaults are the demo world's.

    ``landslide_area_ha`` None keeps the demo's rule for scar sizes (length 140-320 m,
    width 45-100 m, at least 0.6 ha).
    """

    cloud_fractions: tuple[float, ...] = _DEMO_CLOUDS
    """cloudy fraction of the bbox on each Sentinel-2 date, in schedule order"""
    clear_events: float = 4.0
    """how strongly clouds are cleared off the events on their reference dates (0: not)"""
    cloud_height_m: float = 1500.0
    """cloud-top height above ground, metres (sets the shadow displacement)"""
    shadow_factor: float = 0.35
    """fraction of the surface signal left in a cloud shadow"""
    cirrus_max: float = 0.06
    """largest thin-cirrus fraction of the bbox on a date (it is 0.4 x the cloud fraction)"""
    haze: float = 0.0
    """largest unflagged haze, reflectance added in blue (each date draws 0..haze)"""
    s1_enl: float = 4.4
    """equivalent number of looks of the Sentinel-1 speckle"""
    relief: float = 1.0
    """hill height relative to the demo's"""
    illumination_k: float = 0.5
    """exponent of the terrain illumination gain (cos i / cos z) ** k"""
    forest_amplitude: float = 0.06
    """seasonal swing of the forest vegetation fraction"""
    forest_peak_doy: float = 205.0
    """day of year of full leaf"""
    paddy_shift_days: float = 0.0
    """delay of the paddy calendar (irrigation, growth, harvest), days"""
    flood_width: float = 1.0
    """flood half-width relative to the demo's"""
    flood_length_m: float = 3300.0
    """length of the flooded reach along the river, metres"""
    flood_start: float = 0.0
    """where the flooded reach starts on the eligible valley floor, 0..1"""
    landslide_count: int = 10
    """number of landslide scars sought"""
    landslide_area_ha: tuple[float, float] | None = None
    """(min, max) scar area, ha, drawn log-uniformly; None: the demo's rule"""
    landslide_elongation: tuple[float, float] = (1.5, 4.0)
    """(min, max) scar length / width when ``landslide_area_ha`` is set"""
    dem_margin_deg: float = 0.005
    """how far the DEM tiles reach past the bbox, degrees"""
    clearcut_count: int = 0
    """clear-cut blocks sought (:mod:`.managed`); 0 in the demo world"""
    harvest_count: int = 0
    """early-harvested paddy blocks sought; 0 in the demo world"""
    construction_count: int = 0
    """construction sites sought; 0 in the demo world"""
    wet_soil_count: int = 0
    """wet fields sought near the flood (:mod:`.confounders`); 0 in the demo world"""
    wet_soil_db: float = 0.0
    """γ⁰ rise of wet fields (a drop on waterlogged smooth ones), dB"""
    wet_soil_darkening: float = 0.0
    """fraction of the wet soil's SWIR reflectance lost"""
    water_wind_fraction: float = 0.0
    """share of the flood and inland water roughened by wind on the flood's S1 pass"""
    water_wind_db: float = 0.0
    """γ⁰ rise of wind-roughened water, dB"""
    s1_incidence_deg: float | None = None
    """Sentinel-1 incidence angle for layover and shadow; None: no radar geometry (demo)"""
    layover_db: float = 0.0
    """γ⁰ rise in layover, dB"""
    s1_noise_floor_db: float = -25.0
    """γ⁰ in radar shadow, dB"""
    thinning_count: int = 0
    """thinned forest blocks sought; 0 in the demo world"""
    thinning_canopy_removed: float = 0.0
    """fraction of the canopy felled in a thinned block"""
    flood_paddy_ponds: int = 0
    """ponded paddy blocks sought beside the river flood (:mod:`.events`); 0 in the demo"""
    mixed_edges: bool = False
    """events rendered by the share of each pixel they cover, so that a pixel an event's
    outline crosses is a mixture, as a sensor's footprint integrates the ground (varied
    worlds); False: by pixel centre, all or nothing (the demo's world)"""

    def __post_init__(self) -> None:
        if len(self.cloud_fractions) != len(S2_SCHEDULE):
            raise SampleArchiveError(
                f"cloud_fractions needs one value per Sentinel-2 date ({len(S2_SCHEDULE)}), "
                f"got {len(self.cloud_fractions)}"
            )
        if not all(0.0 <= f <= 1.0 for f in self.cloud_fractions):
            raise SampleArchiveError(f"cloud fractions must be 0..1, got {self.cloud_fractions}")
        if self.s1_enl <= 0 or self.relief <= 0 or self.landslide_count < 0:
            raise SampleArchiveError(
                "s1_enl and relief must be positive and landslide_count not negative"
            )

    @property
    def is_demo(self) -> bool:
        """True for the demo world's parameters."""
        return self == WorldParams()

    @classmethod
    def draw(cls, seed: int) -> WorldParams:
        """A world's parameters drawn from :data:`RANGES` by ``seed`` (its own stream)."""
        rng = rng_for(seed, "world-params")

        def pick(name: str) -> float:
            return RANGES[name].draw(float(rng.uniform()))

        clouds = tuple(round(pick("cloud_fraction"), 4) for _ in S2_SCHEDULE)
        values: dict[str, Any] = {"cloud_fractions": clouds}
        for name in (
            "clear_events",
            "cloud_height_m",
            "shadow_factor",
            "cirrus_max",
            "haze",
            "s1_enl",
            "relief",
            "illumination_k",
            "forest_amplitude",
            "forest_peak_doy",
            "paddy_shift_days",
            "flood_width",
            "flood_length_m",
            "flood_start",
        ):
            values[name] = round(pick(name), 4)
        values["landslide_count"] = int(pick("landslide_count"))
        area, elong = RANGES["landslide_area_ha"], RANGES["landslide_elongation"]
        values["landslide_area_ha"] = (area.lo, area.hi)
        values["landslide_elongation"] = (elong.lo, elong.hi)
        values["dem_margin_deg"] = 0.012
        # drawn last: the draws above, and so the worlds made before these existed, stay
        for name in ("clearcut_count", "harvest_count", "construction_count"):
            values[name] = int(pick(name))
        # the confounders (issue 13 item 1), drawn after every older parameter
        for name in ("wet_soil_count", "thinning_count"):
            values[name] = int(pick(name))
        for name in (
            "wet_soil_db",
            "wet_soil_darkening",
            "water_wind_fraction",
            "water_wind_db",
            "s1_incidence_deg",
            "layover_db",
            "s1_noise_floor_db",
            "thinning_canopy_removed",
        ):
            values[name] = round(pick(name), 4)
        values["flood_paddy_ponds"] = int(pick("flood_paddy_ponds"))  # after the confounders
        values["mixed_edges"] = True  # how a varied world renders, not a draw
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldParams:
        """Parse :meth:`to_dict` output; unknown keys are an error, missing ones the demo's."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SampleArchiveError(
                f"unknown world parameters {sorted(unknown)}; known: {sorted(known)}"
            )
        values: dict[str, Any] = {}
        for k, v in d.items():
            values[k] = tuple(v) if isinstance(v, list) else v
        return cls(**values)
