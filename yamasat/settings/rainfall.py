"""The ``rainfall`` section: where daily rainfall comes from and what makes a rain event."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .fields import Float, Int, Text, read_only
from .section import Section

__all__ = ["RainThresholds", "RainWatchConfig", "RainfallConfig"]


class RainThresholds(Section):
    """Accumulated rainfall (mm) that makes an event; a threshold set to null is not used.
    An event needs any one of them crossed."""

    h24_mm: Float | None = Field(default=100.0, gt=0, description="24-hour (1-day) total, mm")
    h48_mm: Float | None = Field(default=None, gt=0, description="48-hour (2-day) total, mm")
    h72_mm: Float | None = Field(default=150.0, gt=0, description="72-hour (3-day) total, mm")

    def by_window(self) -> dict[int, float]:
        """Window in days -> mm, for the thresholds set."""
        pairs = ((1, self.h24_mm), (2, self.h48_mm), (3, self.h72_mm))
        return {k: v for k, v in pairs if v is not None}


def _codes(value: dict[str, RainThresholds]) -> dict[str, RainThresholds]:
    bad = [c for c in value if not (len(c) == 5 and c.isdigit())]
    if bad:
        raise ValueError(f"expected five-digit municipality codes (e.g. '35206'), got {bad}")
    return read_only(value)


class RainWatchConfig(Section):
    """What the ``rain_watch`` flow asks for after an event, and how long it keeps asking."""

    s1_window_days: Int = Field(
        default=14, ge=1, description="days after the peak to wait for a Sentinel-1 pass"
    )
    s2_window_days: Int = Field(
        default=60, ge=1, description="days after the peak to wait for a clear Sentinel-2 scene"
    )
    s2_min_clear_fraction: Float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="clear share an S2 date needs (1 - its tiles' eo:cloud_cover, mean)",
    )
    reference_days: Int = Field(
        default=30, ge=1, description="length of the pre-event reference period, days"
    )


class RainfallConfig(Section):
    """Daily rainfall (JAXA GSMaP) and the rain-event detector."""

    source: Text = Field(
        default="public", description="source of the rainfall family (a configured name)"
    )
    statistic: Literal["max", "mean"] = Field(
        default="max", description="municipality value compared to thresholds: max or mean"
    )
    thresholds: RainThresholds = Field(
        default_factory=RainThresholds, description="default thresholds of every municipality"
    )
    by_municipality: Annotated[dict[str, RainThresholds], AfterValidator(_codes)] = Field(
        default_factory=dict, description="thresholds of particular municipalities, by code"
    )
    wet_day_mm: Float = Field(
        default=5.0, ge=0, description="a day with at least this much rain is wet (spells)"
    )
    merge_gap_days: Int = Field(
        default=1, ge=0, description="wet spells this many dry days apart are one storm"
    )
    latency_days: Int = Field(
        default=3, ge=0, description="GSMaP days this recent may be missing: 'late', not lost"
    )
    watch: RainWatchConfig = Field(
        default_factory=RainWatchConfig, description="products after an event"
    )

    def thresholds_for(self, code: str) -> dict[int, float]:
        """Window days -> mm for municipality ``code``."""
        return self.by_municipality.get(code, self.thresholds).by_window()
