"""STAC Items and Collections of the sample archive, in the layouts of the real sources.

Sentinel-2 items copy the Earth Search ``sentinel-2-c1-l2a`` layout (asset keys by colour,
``raster:bands`` scale/offset, ``mgrs:*``, ``grid:code``, ``proj:epsg`` on the item, per-asset
``proj:shape``/``proj:transform``), Sentinel-1 items the Planetary Computer
``sentinel-1-rtc`` layout (``vv``/``vh`` float32, ``sat:*``, ``sar:*``, ``s1:*``) and DEM
items the Earth Search ``cop-dem-glo-30`` layout. Like the real sources they declare
projection v1.1.0 with ``proj:epsg``; they also carry ``proj:code`` so both old and new
readers find the CRS. Everything is marked synthetic (``yamasat:synthetic``). All
builders are pure: timestamps derive from the acquisition dates, never from the clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pystac
import shapely
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from shapely.geometry import mapping

from ...processing.write import COG_MEDIA_TYPE, WrittenFile
from .scenes import DN_OFFSET, DN_SCALE, S1_ENL, TEN_M_BANDS, DemTile, S2Tile
from .schedule import S1Acquisition, S2Acquisition
from .sky import sun_position

__all__ = [
    "ASSET_FILES",
    "SYNTHETIC",
    "dem_item",
    "s1_item",
    "s1_item_id",
    "s2_item",
    "s2_item_id",
    "scl_statistics",
]

SYNTHETIC = "yamasat:synthetic"
"""Property that marks every object of the sample archive as synthetic."""
SOFTWARE = {"yamasat-sample": "1"}
_EXT = "https://stac-extensions.github.io/{}/schema.json"
_S2_EXTENSIONS = [
    _EXT.format(e)
    for e in (
        "eo/v1.1.0", "file/v2.1.0", "grid/v1.1.0", "mgrs/v1.0.0", "processing/v1.1.0",
        "projection/v1.1.0", "raster/v1.1.0", "sentinel-2/v1.0.0", "view/v1.0.0",
    )
]  # fmt: skip
_S1_EXTENSIONS = [
    _EXT.format(e)
    for e in ("sar/v1.0.0", "sat/v1.0.0", "projection/v1.1.0", "file/v2.0.0", "raster/v1.1.0")
]
_DEM_EXTENSIONS = [
    _EXT.format(e)
    for e in ("processing/v1.1.0", "grid/v1.1.0", "raster/v1.1.0", "projection/v1.1.0")
]

# Earth Search asset key -> (file name, title, MSI band, centre µm, FWHM µm)
_S2_BANDS: dict[str, tuple[str, str, str, float, float]] = {
    "blue": ("B02.tif", "Blue - 10m", "B02", 0.49, 0.098),
    "green": ("B03.tif", "Green - 10m", "B03", 0.56, 0.045),
    "red": ("B04.tif", "Red - 10m", "B04", 0.665, 0.038),
    "nir": ("B08.tif", "NIR 1 - 10m", "B08", 0.842, 0.145),
    "nir08": ("B8A.tif", "NIR 2 - 20m", "B8A", 0.865, 0.033),
    "swir16": ("B11.tif", "SWIR 1.6μm - 20m", "B11", 1.61, 0.143),
    "swir22": ("B12.tif", "SWIR 2.2μm - 20m", "B12", 2.19, 0.242),
}
ASSET_FILES: dict[str, str] = {key: v[0] for key, v in _S2_BANDS.items()} | {
    "scl": "SCL.tif",
    "vv": "iw-vv.rtc.tiff",
    "vh": "iw-vh.rtc.tiff",
}
"""File name of each asset key inside its item's folder (as the real sources name them)."""
_S2_RELATIVE_ORBIT = 89


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _footprint(geobox: GeoBox) -> tuple[dict[str, Any], list[float]]:
    """GeoJSON polygon (EPSG:4326) of a grid's extent, and its bbox."""
    crs = geobox.crs
    ring = shapely.box(*geobox.boundingbox)
    if crs is not None and crs.epsg != 4326:
        tr = Transformer.from_crs(crs.to_wkt(), 4326, always_xy=True)
        ring = shapely.transform(ring, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    ring = shapely.set_precision(ring, 1e-9)
    return mapping(ring), [round(v, 9) for v in ring.bounds]


def _proj(geobox: GeoBox) -> dict[str, Any]:
    a = geobox.transform
    return {"proj:shape": list(geobox.shape.yx), "proj:transform": [a.a, a.b, a.c, a.d, a.e, a.f]}


def _file(written: WrittenFile) -> dict[str, Any]:
    return {"file:checksum": written.multihash, "file:size": written.size}


def scl_statistics(scl: NDArray[np.uint8]) -> dict[str, float]:
    """Percentages of the SCL classes, as the ``s2:*_percentage`` properties report them."""
    total = max(int(scl.size), 1)

    def pct(*codes: int) -> float:
        return round(100.0 * float(np.isin(scl, codes).sum()) / total, 6)

    return {
        "s2:nodata_pixel_percentage": pct(0),
        "s2:saturated_defective_pixel_percentage": pct(1),
        "s2:cloud_shadow_percentage": pct(3),
        "s2:vegetation_percentage": pct(4),
        "s2:not_vegetated_percentage": pct(5),
        "s2:water_percentage": pct(6),
        "s2:unclassified_percentage": pct(7),
        "s2:medium_proba_clouds_percentage": pct(8),
        "s2:high_proba_clouds_percentage": pct(9),
        "s2:thin_cirrus_percentage": pct(10),
        "s2:snow_ice_percentage": pct(11),
    }


def s2_item_id(tile: S2Tile, acq: S2Acquisition) -> str:
    """Earth Search c1 item id, e.g. ``S2B_T52SGC_20250425T020701_L2A``."""
    sat = "S2" + acq.platform[-1].upper()
    return f"{sat}_T{tile.mgrs}_{acq.datatake_start:%Y%m%dT%H%M%S}_L2A"


def s2_item(
    tile: S2Tile, acq: S2Acquisition, files: dict[str, WrittenFile], scl: NDArray[np.uint8]
) -> pystac.Item:
    """The item of one tile crop on one date; ``files`` maps asset keys to written COGs."""
    geometry, bbox = _footprint(tile.geobox10)
    item = pystac.Item(
        id=s2_item_id(tile, acq),
        geometry=geometry,
        bbox=bbox,
        datetime=acq.datetime,
        properties=_s2_properties(tile, acq, geometry, scl),
        stac_extensions=list(_S2_EXTENSIONS),
        collection="sentinel-2-c1-l2a",
    )
    _add_s2_assets(item, tile, files)
    return item


def _s2_properties(
    tile: S2Tile, acq: S2Acquisition, geometry: dict[str, Any], scl: NDArray[np.uint8]
) -> dict[str, Any]:
    sat = "S2" + acq.platform[-1].upper()
    start, sensed = acq.datatake_start, acq.datetime
    generated = start + dt.timedelta(hours=1, minutes=24, seconds=37)
    created = generated + dt.timedelta(minutes=21, seconds=5, milliseconds=817)
    centre = shapely.centroid(shapely.geometry.shape(geometry))
    azimuth, zenith = sun_position(sensed, centre.x, centre.y)
    stats = scl_statistics(scl)
    cloud = stats["s2:medium_proba_clouds_percentage"] + stats["s2:high_proba_clouds_percentage"]
    cloud += stats["s2:thin_cirrus_percentage"]
    baseline = "05.11"
    stamp = f"{start:%Y%m%dT%H%M%S}"
    gen = f"{generated:%Y%m%dT%H%M%S}"
    props: dict[str, Any] = {
        "created": _iso(created),
        "platform": acq.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": round(cloud, 6),
        "proj:epsg": tile.epsg,
        "proj:code": f"EPSG:{tile.epsg}",
        "proj:centroid": {"lat": round(centre.y, 5), "lon": round(centre.x, 5)},
        "mgrs:utm_zone": tile.utm_zone,
        "mgrs:latitude_band": tile.latitude_band,
        "mgrs:grid_square": tile.grid_square,
        "grid:code": f"MGRS-{tile.mgrs}",
        "view:azimuth": 105.0,
        "view:incidence_angle": 6.5,
        "view:sun_azimuth": round(azimuth, 6),
        "view:sun_elevation": round(90.0 - zenith, 6),
        "s2:tile_id": f"{sat}_OPER_MSI_L2A_TL_2BPS_{gen}_A000000_T{tile.mgrs}_N{baseline}",
        **stats,
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": baseline,
        "s2:product_uri": (
            f"{sat}_MSIL2A_{stamp}_N0511_R{_S2_RELATIVE_ORBIT:03d}_T{tile.mgrs}_{gen}.SAFE"
        ),
        "s2:generation_time": _iso(generated),
        "s2:datatake_id": f"G{sat}_{stamp}_000000_N{baseline}",
        "s2:datatake_type": "INS-NOBS",
        "s2:datastrip_id": f"{sat}_OPER_MSI_L2A_DS_2BPS_{gen}_S{stamp}_N{baseline}",
        "earthsearch:boa_offset_applied": False,
        "processing:software": SOFTWARE,
        "description": "Synthetic Sentinel-2 L2A tile crop generated by yamasat; not real data.",
        SYNTHETIC: True,
        "updated": _iso(created),
    }
    return props


def _add_s2_assets(item: pystac.Item, tile: S2Tile, files: dict[str, WrittenFile]) -> None:
    for key, (name, title, msi, centre_um, fwhm) in _S2_BANDS.items():
        gb = tile.geobox10 if key in TEN_M_BANDS else tile.geobox20
        res = 10 if key in TEN_M_BANDS else 20
        extra = {
            "eo:bands": [
                {
                    "name": msi,
                    "common_name": key,
                    "center_wavelength": centre_um,
                    "full_width_half_max": fwhm,
                }
            ],
            "gsd": res,
            **_proj(gb),
            "raster:bands": [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "spatial_resolution": res,
                    "scale": DN_SCALE,
                    "offset": DN_OFFSET,
                }
            ],
            **_file(files[key]),
        }
        item.add_asset(
            key,
            pystac.Asset(f"./{name}", title, None, COG_MEDIA_TYPE, ["data", "reflectance"], extra),
        )
    extra = {
        "gsd": 20,
        **_proj(tile.geobox20),
        "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
        **_file(files["scl"]),
    }
    item.add_asset(
        "scl",
        pystac.Asset(
            "./SCL.tif", "Scene classification map (SCL)", None, COG_MEDIA_TYPE, ["data"], extra
        ),
    )


def s1_item_id(acq: S1Acquisition) -> str:
    """Planetary Computer RTC item id (GRD product id + ``_rtc``)."""
    return (
        f"S1A_IW_GRDH_1SDV_{acq.start:%Y%m%dT%H%M%S}_{acq.end:%Y%m%dT%H%M%S}_"
        f"{acq.absolute_orbit:06d}_{acq.datatake_id:06X}_rtc"
    )


def s1_item(
    acq: S1Acquisition,
    geobox: GeoBox,
    files: dict[str, WrittenFile],
    *,
    enl: float = S1_ENL,
) -> pystac.Item:
    """The RTC item of one pass (Planetary Computer layout)."""
    geometry, bbox = _footprint(geobox)
    a = geobox.transform
    xmin, ymin, xmax, ymax = geobox.boundingbox
    epsg = geobox.crs.epsg if geobox.crs is not None else None
    props: dict[str, Any] = {
        "datetime": None,
        "platform": "SENTINEL-1A",
        "s1:shape": [geobox.shape.x, geobox.shape.y],
        "proj:bbox": [xmin, ymin, xmax, ymax],
        "proj:epsg": epsg,
        "proj:code": f"EPSG:{epsg}",
        "proj:shape": list(geobox.shape.yx),
        "end_datetime": _iso(acq.end),
        "constellation": "Sentinel-1",
        "s1:resolution": "high",
        "proj:transform": [a.a, a.b, a.c, a.d, a.e, a.f, 0.0, 0.0, 1.0],
        "s1:datatake_id": str(acq.datatake_id),
        "start_datetime": _iso(acq.start),
        "s1:orbit_source": "RESORB",
        "s1:slice_number": "4",
        "s1:total_slices": "7",
        "sar:looks_range": 5,
        "sat:orbit_state": "ascending",
        "sar:product_type": "GRD",
        "sar:looks_azimuth": 1,
        "sar:polarizations": ["VV", "VH"],
        "sar:frequency_band": "C",
        "sat:absolute_orbit": acq.absolute_orbit,
        "sat:relative_orbit": acq.relative_orbit,
        "s1:processing_level": "1",
        "sar:instrument_mode": "IW",
        "sar:center_frequency": 5.405,
        "sar:resolution_range": 20,
        "s1:product_timeliness": "Fast-24h",
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:observation_direction": "right",
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_equivalent_number": enl,
        "s1:instrument_configuration_ID": "7",
        "sat:platform_international_designator": "2014-016A",
        "description": "Synthetic Sentinel-1 RTC scene generated by yamasat; not real data.",
        SYNTHETIC: True,
    }
    item = pystac.Item(
        id=s1_item_id(acq),
        geometry=geometry,
        bbox=bbox,
        datetime=acq.datetime,
        properties=props,
        stac_extensions=list(_S1_EXTENSIONS),
        collection="sentinel-1-rtc",
    )
    for pol in ("vh", "vv"):
        p1, p2 = pol[0].upper(), pol[1].upper()
        names = {"V": "vertical", "H": "horizontal"}
        extra = {
            **_file(files[pol]),
            "description": (
                "Terrain-corrected gamma naught values of signal transmitted with "
                f"{names[p1]} polarization and received with {names[p2]} polarization "
                "with radiometric terrain correction applied. Synthetic."
            ),
            "raster:bands": [
                {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
            ],
        }
        title = f"{pol.upper()}: {names[p1]} transmit, {names[p2]} receive"
        item.add_asset(
            pol, pystac.Asset(f"./{ASSET_FILES[pol]}", title, None, COG_MEDIA_TYPE, ["data"], extra)
        )
    return item


def dem_item(tile: DemTile, written: WrittenFile) -> pystac.Item:
    """The item of one (cropped) Copernicus DEM tile (Earth Search layout)."""
    geometry, bbox = _footprint(tile.geobox)
    ns, ew = ("N" if tile.lat >= 0 else "S"), ("E" if tile.lon >= 0 else "W")
    centre = shapely.centroid(shapely.geometry.shape(geometry))
    props: dict[str, Any] = {
        "platform": "tandem-x",
        "gsd": 30,
        "proj:epsg": 4326,
        "proj:code": "EPSG:4326",
        **_proj(tile.geobox),
        "proj:centroid": {"lat": round(centre.y, 5), "lon": round(centre.x, 5)},
        "grid:code": f"CDEM-{ns}{abs(tile.lat):02d}{ew}{abs(tile.lon):03d}",
        "processing:software": SOFTWARE,
        "created": "2023-03-28T15:22:58.088Z",
        "updated": "2023-04-20T18:13:48.068Z",
        "description": (
            "Synthetic elevation on the real tile's 1 arc-second grid, cropped to the sample "
            "bbox plus 0.005° (a real tile covers 1°x1°)."
        ),
        SYNTHETIC: True,
    }
    item = pystac.Item(
        id=tile.name,
        geometry=geometry,
        bbox=bbox,
        datetime=dt.datetime(2021, 4, 22, tzinfo=dt.UTC),
        properties=props,
        stac_extensions=list(_DEM_EXTENSIONS),
        collection="cop-dem-glo-30",
    )
    extra = {
        "raster:bands": [
            {"sampling": "point", "data_type": "float32", "spatial_resolution": 30, "unit": "meter"}
        ],
        **_file(written),
    }
    item.add_asset(
        "data", pystac.Asset(f"./{tile.name}.tif", "Data", None, COG_MEDIA_TYPE, ["data"], extra)
    )
    return item
