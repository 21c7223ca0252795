"""The per-scene offset check (processing.offset_check) on planted scenes whose
``earthsearch:boa_offset_applied`` flag is right, or wrong in either direction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from yamasat.processing.offset_check import decide_offset

RHO = {"blue": 0.03, "green": 0.06, "red": 0.04}  # vegetated land


def _scene(offset_in_data: bool, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    scl = np.full((100, 100), 4, dtype="uint8")
    scl[:20] = 6  # water is not land
    scl[20:25] = 9  # cloud
    scl[95:] = 0  # no data
    bands = {}
    for band, rho in RHO.items():
        r = np.clip(rho + rng.normal(0, 0.01, scl.shape), -0.01, None)
        dn = np.round((r if offset_in_data else r + 0.1) * 1e4).clip(1, None)
        dn[scl == 0] = 0
        bands[band] = dn.astype("uint16")
    return bands, scl


@pytest.mark.parametrize(
    ("flag", "in_data", "offset", "wrong"),
    [
        (True, True, 0.0, False),  # flag right: offset already out of the data
        (False, False, -0.1, False),  # flag right: offset still in the data
        (True, False, -0.1, True),  # flag says applied, it is not: never applied otherwise
        (False, True, 0.0, True),  # flag says not applied, it is: applied twice otherwise
    ],
)
def test_pixels_decide_whatever_the_flag(
    flag: bool, in_data: bool, offset: float, wrong: bool
) -> None:
    visible, scl = _scene(in_data)
    d = decide_offset(visible, scl, flag=flag)
    assert (d.scale, d.offset) == (1e-4, offset)
    assert d.rule.startswith("negative-share")
    assert d.flag_wrong is wrong
    assert d.land_pixels == 70 * 100
    # the decided scaling makes vegetation plausible: reflectance ≈ planted, none below 0
    red = visible["red"][scl == 4] * d.scale + d.offset
    assert abs(float(np.median(red)) - RHO["red"]) < 0.005
    assert d.as_qa()["rule"] == d.rule


def test_too_few_land_pixels_or_ambiguous_falls_back_on_the_flag() -> None:
    visible, scl = _scene(True)
    cloudy = np.where(scl == 4, 9, scl).astype("uint8")
    cloudy[30:32, :] = 4  # 200 land pixels
    d = decide_offset(visible, cloudy, flag=False)
    assert d.rule == "flag (too few land pixels)" and d.offset == -0.1 and not d.flag_wrong
    # a scene half bright (offset in data), half dark: the share lands between the bounds
    mixed = {b: v.copy() for b, v in visible.items()}
    for b, values in mixed.items():
        values[60:95] = np.round((RHO[b] + 0.1) * 1e4)
        values[25:50] = np.round((RHO[b] + 0.1) * 1e4)
    d = decide_offset(mixed, scl, flag=True)
    assert d.rule == "flag (ambiguous)" and d.offset == 0.0
    assert d.negative_share is not None and 0.02 < d.negative_share < 0.2


def test_scale_function_applies_each_scenes_decision(tmp_path: Path) -> None:
    """Two older-l2a scenes with wrong flags, in COGs: the loader's scale function gives each
    scene's reflectance bands the offset its pixels decide; SCL keeps its own scaling."""
    import pystac
    import rasterio
    from rasterio.transform import from_origin

    from yamasat.catalogs.sources.profiles import scale_offset
    from yamasat.processing.offset_check import checked_scale_fn

    items = []
    for n, (flag, applied) in enumerate([(True, False), (False, True)]):
        bands, scl = _scene(applied, seed=n)
        arrays = {"red": bands["red"], "nir": bands["green"], "scl": scl}
        item = pystac.Item(f"scene-{n}", None, None, dt.datetime(2021, 7, 1, tzinfo=dt.UTC), {})
        item.properties["earthsearch:boa_offset_applied"] = flag
        for key, arr in arrays.items():
            path = tmp_path / f"{n}-{key}.tif"
            with rasterio.open(
                path, "w", driver="GTiff", width=100, height=100, count=1, dtype=arr.dtype,
                crs="EPSG:32652", transform=from_origin(700000, 3770000, 10, 10), nodata=0,
            ) as dst:  # fmt: skip
                dst.write(arr, 1)
            rb = [{"scale": 1.0}] if key == "scl" else [{"scale": 0.0001, "offset": -0.1}]
            item.add_asset(key, pystac.Asset(str(path), extra_fields={"raster:bands": rb}))
        items.append(item)
    fn, decisions = checked_scale_fn(
        items, {"red": "red", "nir": "nir", "scl": "scl"}, scale_offset
    )
    assert [decisions[f"scene-{n}"].flag_wrong for n in (0, 1)] == [True, True]
    for item, want in zip(items, (-0.1, 0.0), strict=True):
        for band in ("red", "nir"):
            asset = item.assets[band].to_dict()
            assert fn(band, item.properties, asset) == (0.0001, want)
        assert fn("scl", item.properties, item.assets["scl"].to_dict()) == (1.0, 0.0)
