"""The sample archive through the real STAC path: local catalog and a loopback HTTP server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.extent.periods import Period
from yamasat.catalogs.sample import SampleManifest, World
from yamasat.catalogs.sources.hrefs import HrefPolicy
from yamasat.catalogs.sources.profiles import scale_offset
from yamasat.catalogs.sources.search import resolve_source, search_items, vet_assets
from yamasat.errors import HrefPolicyError, NoDataError
from yamasat.processing.grid import project_geobox
from yamasat.processing.load import load_s2

pytestmark = pytest.mark.slow

# a window straddling 132°E, inside the demo extent
WINDOW = (131.975, 33.90, 132.025, 33.93)


def _load(items: list, geobox: object, chunk: int = 2048):  # type: ignore[no-untyped-def]
    source_assets = {b: b for b in ("red", "nir", "green", "scl")}
    return load_s2(
        items,
        assets=source_assets,
        geobox=geobox,
        scale_fn=scale_offset,  # type: ignore[arg-type]
        bands=("red", "nir", "green"),
        chunk=chunk,
    )


def test_load_across_132e_matches_planted_world(sample_root: Path) -> None:
    manifest = SampleManifest.read(sample_root)
    world = World(manifest.seed, manifest.bbox)
    source = resolve_source(str(sample_root / "catalog.json"), profile="sample")
    day = next(d for d in manifest.s2_dates if d != manifest.cloudy_date)
    items = search_items(source, family="s2", aoi=shapely.box(*WINDOW), period=Period(day, day))
    crs = {
        it.properties.get("proj:code") or f"EPSG:{it.properties.get('proj:epsg')}" for it in items
    }
    assert crs == {"EPSG:32652", "EPSG:32653"}  # both UTM zones contribute
    geobox = project_geobox(shapely.box(*WINDOW), crs="EPSG:6671", resolution=10)
    ds = _load(items, geobox, chunk=256)
    assert ds.sizes["time"] == 1 and ds.odc.geobox.crs.epsg == 6671
    tr = Transformer.from_crs("EPSG:6671", 4326, always_xy=True)
    lon, _ = tr.transform(*np.meshgrid(geobox.coords["x"].values, geobox.coords["y"].values))
    clear = ~ds.mask.isel(time=0).values
    for band in ("red", "nir", "green"):
        loaded = ds[band].isel(time=0).values
        planted = world.surface_reflectance(geobox, band, day)
        err = np.abs(loaded - planted)
        for side in (lon < 131.998, lon > 132.002):
            sel = clear & side & np.isfinite(loaded)
            assert sel.sum() > 2000
            # sensor noise σ≈0.004 smoothed by bilinear resampling: the median error is small
            assert np.median(err[sel]) < 0.006, band
            assert np.mean(loaded[sel] - planted[sel]) == pytest.approx(0, abs=0.002)
        # no seam: the strip along 132°E agrees as well as either side
        seam = clear & (np.abs(lon - 132.0) < 0.001)
        assert seam.sum() > 100 and np.median(err[seam]) < 0.006


def test_outside_archive_is_no_data(sample_root: Path) -> None:
    source = resolve_source(str(sample_root / "catalog.json"), profile="sample")
    with pytest.raises(NoDataError, match="no sentinel-2-c1-l2a items"):
        search_items(
            source,
            family="s2",
            aoi=shapely.box(130.9, 34.3, 131.0, 34.4),
            period=Period(dt.date(2025, 4, 1), dt.date(2025, 10, 31)),
        )


def test_loopback_api_and_static_http_give_same_pixels(sample_root: Path) -> None:
    manifest = SampleManifest.read(sample_root)
    day = manifest.s2_dates[0]
    period = Period(day, day)
    aoi = shapely.box(*WINDOW)
    geobox = project_geobox(aoi, crs="EPSG:6671", resolution=10)
    local = resolve_source(str(sample_root / "catalog.json"), profile="sample")
    local_items = search_items(local, family="s2", aoi=aoi, period=period)
    expected = _load(local_items, geobox).compute()
    with RangeServer(sample_root) as srv:
        host = f"127.0.0.1:{srv.port}"
        policy = HrefPolicy(allowed_http_hosts=(host,))
        for spec in (srv.stac_api_url, srv.file_url("catalog.json")):
            src = resolve_source(spec, profile="sample")
            assert src.kind == ("stac-api" if spec == srv.stac_api_url else "static")
            items = search_items(src, family="s2", aoi=aoi, period=period)
            assert sorted(i.id for i in items) == sorted(i.id for i in local_items)
            vet_assets(items, ["red", "nir", "green", "scl"], policy)
            assert all(i.assets["red"].href.startswith("http://127.0.0.1") for i in items)
            got = _load(items, geobox).compute()
            for band in ("red", "nir", "green", "mask"):
                np.testing.assert_array_equal(got[band].values, expected[band].values)
        ranged = [r for r in srv.requests if r.range]
        assert ranged, "GDAL should read the COGs with range requests"
        # without the host in the policy the loopback hrefs are refused before any read
        src = resolve_source(srv.stac_api_url, profile="sample")
        items = search_items(src, family="s2", aoi=aoi, period=period)
        with pytest.raises(HrefPolicyError, match="allowed_http_hosts"):
            vet_assets(items, ["red"], HrefPolicy())
