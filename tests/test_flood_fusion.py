"""The fused flood: the rules of :func:`fuse_floods` on planted layers (numpy and dask), and
the product on the sample archive (every S1 and S2 acquisition after the event)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr

from yamasat.catalogs.sample import SampleManifest, World
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_run import analyse_product
from yamasat.flows.recipes import FLOOD_FUSED, FLOOD_S1
from yamasat.processing.accuracy import confusion
from yamasat.processing.flood_fusion import (
    SENSOR_CODES,
    AcquisitionFlood,
    fuse_floods,
    sensor_codes,
)
from yamasat.processing.grid import project_geobox
from yamasat.settings import load_settings

N = 12


def _layer(a: np.ndarray, backend: str) -> xr.DataArray:
    da = xr.DataArray(a, dims=("y", "x"))
    return da.chunk({"y": 5, "x": 7}) if backend == "dask" else da


def _acquisitions(backend: str) -> list[AcquisitionFlood]:
    """S1 sees a flood in rows 2–7, a flood over an irrigated paddy in row 10 and (wrongly) the
    blurred edge of a river in row 11, whose open part (columns 0–1) its reference saw; S2
    sees the flood receded to rows 2–4, is clouded over columns 0–3, and its reference has the
    paddy as water and the river as open water."""
    s1_flood = np.zeros((N, N), bool)
    s1_flood[2:8] = True
    s1_flood[10] = True
    s1_votes = np.where(s1_flood, 3, 0).astype("uint8")
    s1_votes[7] = 2
    s2_valid = np.ones((N, N), bool)
    s2_valid[:, :4] = False
    s2_flood = np.zeros((N, N), bool)
    s2_flood[2:5] = True
    s2_ref = np.zeros((N, N), bool)
    s2_ref[10] = True  # a paddy irrigated before the event: wet, not open water
    s2_ref[11] = True
    s2_open = np.zeros((N, N), bool)
    s2_open[11] = True  # a river: open water at 10 m
    s1_ref = np.zeros((N, N), bool)
    s1_ref[11, :2] = True  # the river as the radar saw it before the event
    s1_flood[11, 2:5] = True  # its blurred edge looked like new water to S1
    return [
        AcquisitionFlood(
            "s1",
            _layer(s1_flood, backend),
            _layer(np.ones((N, N), bool), backend),
            _layer(s1_votes, backend),
            3,
            _layer(s1_ref, backend),
            _layer(s1_ref, backend),
        ),
        AcquisitionFlood(
            "s2",
            _layer(s2_flood & s2_valid, backend),
            _layer(s2_valid, backend),
            _layer((s2_flood & s2_valid).astype("uint8"), backend),
            1,
            _layer(s2_ref, backend),
            _layer(s2_open, backend),
        ),
    ]


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_fusion_is_the_union_of_the_acquisitions(backend: str) -> None:
    layers = fuse_floods(_acquisitions(backend))
    flood = layers["flood"].values
    expected = np.zeros((N, N), bool)
    expected[2:8] = True  # the union: S2's later dry view does not undo S1's flood
    expected[10] = True  # S2's wet reference does not exclude S1's detection; its river does
    np.testing.assert_array_equal(flood, expected)
    assert layers["valid"].values.all()
    like = layers["likelihood"].values
    assert (like[flood] >= 67).all() and (like[~flood] <= 33).all()
    # agreeing detectors only: S1 3/3 and S2 1/1 → 100; S1 2/3 alone (S2 dry there) → 67
    assert like[3, 6] == 100 and like[7, 6] == 67 and like[10, 6] == 100 and like[11, 6] == 0
    codes = sensor_codes(layers, layers["flood"], layers["valid"]).values
    assert codes[3, 6] == 15  # flood by both
    assert codes[3, 1] == 5  # flood by S1, S2 clouded
    assert codes[6, 6] == 7  # flood by S1, S2 saw it dry (receded)
    assert codes[0, 6] == 3 and codes[0, 1] == 1 and codes[10, 6] == 7
    assert set(np.unique(codes)) <= set(SENSOR_CODES)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_optical_open_water_excludes_radar_floods_only_in_channels(backend: str) -> None:
    """Sentinel-2's open water excludes a Sentinel-1 flood in a channel too narrow for the
    radar (3 px), not on a paddy under open water before the event (8 × 8 px) that the
    radar, which saw no water there, resolves."""
    n = 24
    s1_flood = np.ones((n, n), bool)
    s2_open = np.zeros((n, n), bool)
    s2_open[4:12, 4:12] = True  # a paddy under open water before the event
    s2_open[16:19, :] = True  # a river channel
    none = np.zeros((n, n), bool)
    s1 = [_layer(a, backend) for a in (s1_flood, ~none, s1_flood.astype("uint8") * 3)]
    s2 = [_layer(a, backend) for a in (none, ~none, none.astype("uint8"))]
    acq = [
        AcquisitionFlood("s1", *s1, 3, _layer(none, backend), _layer(none, backend)),
        AcquisitionFlood("s2", *s2, 1, _layer(s2_open, backend), _layer(s2_open, backend)),
    ]
    flood = fuse_floods(acq)["flood"].values
    assert flood[4:12, 4:12].all() and not flood[16:19].any()
    assert flood[~s2_open].all()


def test_fusion_does_not_depend_on_the_backend() -> None:
    a = fuse_floods(_acquisitions("numpy"))
    b = fuse_floods(_acquisitions("dask"))
    for key in a:
        np.testing.assert_array_equal(a[key].values, b[key].values)


FUSED = {"before": "2025-06-20/2025-06-30", "after": "2025-07-01/2025-07-10"}
"""the S1 flood's periods: S1 06-24 → 07-06, S2 06-29 → 07-09"""


def _items(prep: Any, family: str, bands: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    return search_family(prep, family, prep.before, bands), search_family(
        prep, family, prep.after, bands
    )


@pytest.mark.slow
def test_fused_product_on_the_sample(sample_root: Path, tmp_path: Path) -> None:
    m = SampleManifest.read(sample_root)
    prep = prepare(
        aoi=",".join(f"{v:g}" for v in m.bbox),
        source=str(sample_root / "catalog.json"),
        out=tmp_path,
        settings=load_settings(env={}),
        before=FUSED["before"],
        after=FUSED["after"],
    )
    s1 = _items(prep, "s1", ("vv", "vh"))
    s2 = _items(prep, "s2", ("green", "swir16", "nir", "scl"))
    fused = analyse_product(FLOOD_FUSED, prep, s1[0] + s2[0], s1[1] + s2[1])
    assert fused.outcome == "published", fused.message
    assert {"flood", "likelihood", "sensor"} <= set(fused.files)
    with rasterio.open(fused.files["flood"]["path"]) as src:
        product = src.read(1)
    with rasterio.open(fused.files["sensor"]["path"]) as src:
        codes = src.read(1)
    truth = World(m.seed, m.bbox).truth(project_geobox(shapely.box(*m.bbox)), "flood")
    c = confusion(product, truth)
    assert c.csi >= 0.90, c
    assert set(np.unique(codes)) <= set(SENSOR_CODES)
    assert ((codes & 12) > 0)[product == 1].all()  # every flood pixel names its sensor
    observed = fused.qa["observed_fraction"]
    assert observed["any"] >= max(observed["s1"], observed["s2"]) > 0
    assert len(fused.qa["s1_acquisitions"]) == 1 and len(fused.qa["s2_acquisitions"]) == 1
    s1_only = analyse_product(FLOOD_S1, prep, *s1)
    assert s1_only.item_id != fused.item_id  # a product of its own
