"""The change recipe's native load reads whole L2A tiles on scene-sized grids (issue 14)."""

from __future__ import annotations

from odc.geo.geobox import GeoBox

from yamasat.flows.recipes.change_detection import native_chunking


def test_scene_sized_grids_load_whole_l2a_tiles() -> None:
    scene = GeoBox.from_bbox((600000, 3690000, 709800, 3800040), "EPSG:32652", resolution=10)
    block, chunk = native_chunking(scene, 1536)
    assert (block, chunk) == (1024, 2048)  # chunks start on tile corners, two tiles wide
    assert native_chunking(scene, 1024) == (1024, 1024)
    assert native_chunking(scene, 4096) == (1024, 4096)


def test_small_grids_keep_the_configured_chunks() -> None:
    small = GeoBox.from_bbox((600000, 3770000, 630000, 3800040), "EPSG:32652", resolution=10)
    assert native_chunking(small, 1536) == (512, 1536)
