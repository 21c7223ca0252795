"""The ``analytics.flood`` section: the Sentinel-1 detectors, their exclusions and region
growing, and the Sentinel-2 MNDWI recipe's slope rule (the methods: ``processing/flood.py``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from .fields import Float, Int
from .section import Section

__all__ = ["FloodConfig"]


class FloodConfig(Section):
    """Flood mapping (Sentinel-1 detectors by vote; Sentinel-2 MNDWI)."""

    change_db: Float = Field(default=-3.0, lt=0, description="S1: post − pre VV (dB) below this")
    vv_water_fallback_db: Float = Field(
        default=-18.0, description="S1: VV water threshold when Otsu finds no bimodal histogram"
    )
    vv_water_max_db: Float = Field(
        default=-15.0,
        description="S1: an Otsu VV threshold above this splits land classes, not water from "
        "land: the fallback is used instead",
    )
    vh_water_fallback_db: Float = Field(
        default=-24.0, description="S1: VH water threshold when Otsu finds no bimodal histogram"
    )
    max_slope_deg: Float = Field(
        default=5.0, gt=0, le=90, description="S2: steeper is excluded (standing water)"
    )
    radar_max_slope_deg: Float = Field(
        default=15.0,
        gt=0,
        le=90,
        description="S1 and the fused flood's radar detections: steeper is excluded (where "
        "Twele et al. 2016's slope membership, 0-15°, reaches zero)",
    )
    speckle_window: Int = Field(default=5, ge=3, le=15, description="Lee window, px (odd)")
    speckle_enl: Float = Field(
        default=4.4,
        ge=1,
        le=100,
        description="S1: equivalent number of looks of the speckle, the noise level of the Lee "
        "filter (4.4: Sentinel-1 IW GRDH, ESA product definition)",
    )
    max_hand_m: Float = Field(default=15.0, gt=0, description="S1: excluded above this HAND, m")
    hand_drain_km2: Float = Field(default=1.0, gt=0, description="S1: HAND's stream area, km2")
    min_mapping_unit_px: Int = Field(default=10, ge=1, description="smallest flood region")
    grow_px: Int = Field(
        default=20,
        ge=0,
        le=200,
        description="S1: region growing reaches this many pixels from the majority-vote flood "
        "(0: off; Martinis et al. 2009, Twele et al. 2016)",
    )
    grow_relax_db: Float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="S1: region growing's thresholds this much nearer land than the detectors', dB",
    )
    grow_vh_max_db: Float = Field(
        default=-23.0,
        description="S1: region growing's VH threshold is never above this, dB (ASF HydroSAR)",
    )
    terrain: bool = Field(
        default=True,
        description="exclude steep terrain with the DEM; false: floods are made without it "
        "(products of their own, their QA saying so), as with --no-terrain",
    )

    @field_validator("speckle_window")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"{value} is even; the window is centred on a pixel: give 3, 5, 7 …")
        return value
