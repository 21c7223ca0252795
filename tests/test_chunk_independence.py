"""Every product is independent of dask chunking (issue 13): each product's chain, from its
inputs on the grid to the written layers — change (ΔNDVI and CVA), flood S1 (with slope and
HAND exclusions), flood S2, fused flood, landslide, burn — run on small synthetic scenes with
two chunk sizes gives identical masks and a likelihood (or severity) within one step.

The chunk sizes are 64 px (ragged blocks: the scenes are not multiples of it) and one
block for the whole scene. Inputs are the processing level's (reflectance, dB, elevation),
not whole flows: about 12 s of CPU for the module (dask's graphs, mostly the optical flood's).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import dask
import numpy as np
import pytest
import xarray as xr

from yamasat.flows.recipes.flood_mapping_s2 import optical_layers, water_indices
from yamasat.processing.burn import burn_severity
from yamasat.processing.change_map import (
    ChangeParams,
    change_measure,
    change_product,
    period_index,
)
from yamasat.processing.flood import (
    SarFloodParams,
    SarThresholds,
    bimodal_threshold,
    minimum_mapping_unit_observed,
    sar_flood,
)
from yamasat.processing.flood_fusion import AcquisitionFlood, fuse_floods
from yamasat.processing.indices import bsi, mndwi, nbr, ndti, ndvi
from yamasat.processing.landslide import LandslideParams, landslide_candidates, landslide_scars
from yamasat.processing.objects import minimum_mapping_unit
from yamasat.processing.sar import lee_filter, to_db
from yamasat.processing.terrain import hand_m, slope_deg

SHAPE = (170, 190)
CVA_BANDS = ("red", "nir", "swir16")
SMALL, WHOLE = 64, 4096
STEP = {"likelihood": 34, "severity": 1}
"""one step of each graded layer (the likelihood is 0/33/67/100 for S1; a severity class)"""

Chain = Callable[[Callable[[np.ndarray], xr.DataArray]], dict[str, np.ndarray]]


def _da(chunk: int) -> Callable[[np.ndarray], xr.DataArray]:
    def make(a: np.ndarray) -> xr.DataArray:
        dims = ("time", "y", "x")[-a.ndim :]
        return xr.DataArray(a, dims=dims).chunk({d: (1 if d == "time" else chunk) for d in dims})

    return make


def _computed(**layers: xr.DataArray) -> dict[str, np.ndarray]:
    """The layers computed together (one pass over their shared graph)."""
    done = dask.compute(*(v.data for v in layers.values()))
    return {k: np.asarray(v) for k, v in zip(layers, done, strict=True)}


def _terrain() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation (m): a valley floor with a river, hills to the north; and the planted
    landslide scar and flood masks."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]].astype("float64")
    dem = 5 + 0.02 * xx + np.where(yy < 70, (70 - yy) * 4.0, 0.0) + 2 * np.sin(xx / 9)
    scar = ((yy - 30) ** 2 / 12**2 + (xx - 60) ** 2 / 6**2) < 1
    flood = ((yy - 125) ** 2 / 22**2 + (xx - 110) ** 2 / 45**2) < 1
    return dem.astype("float32"), scar, flood


def _optical(rng: np.random.Generator, n: int, **planted: np.ndarray) -> dict[str, np.ndarray]:
    """``n`` dates of reflectance (blue, green, red, nir, swir16, swir22) of vegetated land,
    with the planted surfaces (``bare``, ``water``, ``burned``) and a cloud on one date."""
    base = {"blue": 0.04, "green": 0.07, "red": 0.05, "nir": 0.32, "swir16": 0.18, "swir22": 0.09}
    bands = tuple(base)
    surf = {
        "bare": dict(zip(bands, (0.12, 0.16, 0.2, 0.24, 0.32, 0.26), strict=True)),
        "water": dict(zip(bands, (0.06, 0.08, 0.05, 0.03, 0.02, 0.01), strict=True)),
        "burned": dict(zip(bands, (0.05, 0.06, 0.07, 0.12, 0.22, 0.2), strict=True)),
    }
    out = {}
    for band, v in base.items():
        a = np.full((n, *SHAPE), v, "float32")
        for name, mask in planted.items():
            a[:, mask] = surf[name][band]
        a *= rng.normal(1.0, 0.03, a.shape).astype("float32")
        a[0, 150:165, 5:40] = np.nan  # a cloud on the first date
        out[band] = a
    return out


def _change(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    _, scar, flood = _terrain()
    before, after = _optical(rng, 2), _optical(rng, 2, bare=scar | flood)
    b = xr.Dataset({k: make(v) for k, v in before.items()})
    a = xr.Dataset({k: make(v) for k, v in after.items()})
    out = {}
    for name, params in (
        ("ndvi", ChangeParams(threshold=-0.2, max_after=0.45)),
        ("cva", ChangeParams(threshold=0.15, direction="increase", cva_bands=CVA_BANDS)),
    ):  # fmt: skip
        measure = change_measure(b, a, params)
        gate = period_index(a, "ndvi") < params.max_after if params.max_after else None
        out[name] = change_product(
            measure, measure.notnull(), threshold=float(params.threshold),
            direction=params.direction, min_mapping_unit_px=10, gate=gate,
            edge_window_px=5,  # boundary pixels by their changed fraction (halo 6)
        ).values  # fmt: skip
        assert (out[name] == 1).sum() > 500  # the planted change is found
    return out


def _speckled(rng: np.random.Generator, db: np.ndarray) -> np.ndarray:
    return (10 ** (db / 10) * rng.gamma(4.4, 1 / 4.4, db.shape)).astype("float32")


def _sar(make: Callable[[np.ndarray], xr.DataArray]) -> tuple[dict[str, xr.DataArray], ...]:
    rng = np.random.default_rng(2)
    dem, _, flood = _terrain()
    river = np.abs(np.arange(SHAPE[0])[:, None] - 100 - 0.1 * np.arange(SHAPE[1])) < 4
    land = np.where(np.arange(SHAPE[0])[:, None] < 70, -7.0, -10.0) * np.ones(SHAPE)
    pre = {"vv": np.where(river, -22.0, land), "vh": np.where(river, -28.0, land - 7)}
    post = {p: np.where(flood & ~river, -21.0 if p == "vv" else -27.0, v) for p, v in pre.items()}
    params = SarFloodParams()
    db = {
        f"{when}_{p}": to_db(lee_filter(make(_speckled(rng, v)), size=5, enl=params.speckle_enl))
        for when, images in (("pre", pre), ("post", post))
        for p, v in images.items()
    }
    elevation = make(dem)
    terrain = {
        "slope": slope_deg(elevation, resolution=10.0),
        "hand": make(
            np.asarray(hand_m(xr.DataArray(dem, dims=("y", "x")), resolution=10.0).values)
        ),
    }
    return db, terrain


def _s1_layers(
    db: dict[str, xr.DataArray], terrain: dict[str, xr.DataArray]
) -> dict[str, xr.DataArray]:
    params = SarFloodParams()
    vv_t, vv_o = bimodal_threshold(db["post_vv"], fallback=-18.0, plausible=(-26.0, -15.0))
    vh_t, vh_o = bimodal_threshold(db["post_vh"], fallback=-24.0)
    return sar_flood(
        db["pre_vv"], db["pre_vh"], db["post_vv"], db["post_vh"],
        thresholds=SarThresholds(vv_t, vh_t, vv_o, vh_o), params=params, **terrain,
    )  # fmt: skip


def _flood_s1(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    layers = _s1_layers(*_sar(make))
    flood = minimum_mapping_unit(layers["flood"], 10)
    assert int(flood.sum()) > 1000  # the planted flood is found
    assert int(layers["excluded"].sum()) > 1000  # and the hills are excluded
    return _computed(flood=flood, likelihood=layers["likelihood"])


def _s2_water(make: Callable[[np.ndarray], xr.DataArray]) -> tuple[dict[str, xr.DataArray], ...]:
    rng = np.random.default_rng(3)
    dem, _, flood = _terrain()
    river = np.abs(np.arange(SHAPE[0])[:, None] - 100 - 0.1 * np.arange(SHAPE[1])) < 4
    ref = {k: make(v[0]) for k, v in _optical(rng, 1, water=river).items()}
    aft = {k: make(v[0]) for k, v in _optical(rng, 1, water=river | flood).items()}
    return ref, aft, {"slope": slope_deg(make(dem), resolution=10.0)}


def _flood_s2(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    ref, aft, terrain = _s2_water(make)
    inside = make(np.ones(SHAPE, bool))
    layers, _ = optical_layers(
        water_indices(xr.Dataset(aft)), water_indices(xr.Dataset(ref)), inside,
        slope=terrain["slope"], max_slope=5.0,
    )  # fmt: skip
    flood = minimum_mapping_unit_observed(layers["flood"], layers["valid"], 10)
    assert int(flood.sum()) > 1000
    return _computed(flood=flood, valid=layers["valid"])


def _flood_fused(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    s1 = _s1_layers(*_sar(make))
    ref, aft, terrain = _s2_water(make)
    s2, _ = optical_layers(
        water_indices(xr.Dataset(aft)), water_indices(xr.Dataset(ref)),
        make(np.ones(SHAPE, bool)), slope=terrain["slope"], max_slope=5.0,
    )  # fmt: skip
    fused = fuse_floods(
        [
            AcquisitionFlood("s1", s1["flood"], s1["valid"], s1["votes"], 3,
                             s1["reference_water"], s1["reference_water"]),
            AcquisitionFlood("s2", s2["flood"], s2["valid"], s2["flood"].astype("uint8"), 1,
                             s2["reference_water"], s2["open_water"]),
        ]
    )  # fmt: skip
    flood = minimum_mapping_unit_observed(fused["flood"], fused["valid"], 10)
    assert int(flood.sum()) > 1000
    return _computed(flood=flood, likelihood=fused["likelihood"])


def _landslide(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    dem, scar, _ = _terrain()
    pre, post = _optical(rng, 1), _optical(rng, 1, bare=scar)
    b = {k: make(v[0]) for k, v in pre.items()}
    a = {k: make(v[0]) for k, v in post.items()}
    elevation = make(dem)
    params = LandslideParams()
    core, edge, valid = landslide_candidates(
        ndvi(b["nir"], b["red"]), ndvi(a["nir"], a["red"]), mndwi(a["green"], a["swir16"]),
        slope_deg(elevation, resolution=10.0), params,
        bsi_after=bsi(a["blue"], a["red"], a["nir"], a["swir16"]),
        ndti_after=ndti(a["swir16"], a["swir22"]),
    )  # fmt: skip
    # landslide_scars takes the elevation too once it uses the fall line (another change)
    extra = (elevation,) if len(inspect.signature(landslide_scars).parameters) > 3 else ()
    scars = landslide_scars(core, edge, params, *extra)
    assert int(scars.sum()) > 100  # the planted scar is found
    return _computed(landslide=scars, valid=valid)


def _burn(make: Callable[[np.ndarray], xr.DataArray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    _, scar, flood = _terrain()
    pre = {k: make(v[0]) for k, v in _optical(rng, 1).items()}
    post = {k: make(v[0]) for k, v in _optical(rng, 1, burned=flood, water=scar).items()}
    dnbr = nbr(pre["nir"], pre["swir22"]) - nbr(post["nir"], post["swir22"])
    water = (mndwi(pre["green"], pre["swir16"]) > 0) | (mndwi(post["green"], post["swir16"]) > 0)
    burned = minimum_mapping_unit((dnbr >= 0.27) & ~water, 10)
    assert int(burned.sum()) > 1000
    return _computed(burn=burned, severity=burn_severity(dnbr))


CHAINS: dict[str, Chain] = {
    "change": _change,
    "flood-s1": _flood_s1,
    "flood-s2": _flood_s2,
    "flood-fused": _flood_fused,
    "landslide": _landslide,
    "burn": _burn,
}


@pytest.mark.parametrize("product", sorted(CHAINS))
def test_product_does_not_depend_on_chunks(product: str) -> None:
    small, whole = CHAINS[product](_da(SMALL)), CHAINS[product](_da(WHOLE))
    assert small.keys() == whole.keys()
    for name, a in small.items():
        b = whole[name]
        if name in STEP:  # graded: within one step
            diff = np.abs(a.astype("int16") - b.astype("int16"))
            assert diff.max() <= STEP[name], f"{product} {name}: differs by {diff.max()}"
            assert (diff == 0).mean() >= 0.999, f"{product} {name}: {np.sum(diff > 0)} differ"
        else:  # masks: identical
            assert np.array_equal(a, b), f"{product} {name}: {np.sum(a != b)} pixels differ"
