"""Quicklooks people can read: distinct classes matching the legend, a Japanese font that is
declared, degree ticks, a scale bar, and the places around the AOI."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import shapely

from yamasat.processing import fonts
from yamasat.processing.quicklook import (
    NO_DATA_COLOUR,
    NOT_DETECTED_COLOUR,
    OUTSIDE_COLOUR,
    QuicklookLayout,
    ReferenceAreas,
    legend_entries,
    quicklook_from_cog,
    render_quicklook,
)

CRS = "EPSG:6671"
# about 15 km x 11 km of the demo extent on the project grid (131.92-132.08 E, 33.88-33.98 N)
W, E, S, N = -22800.0, -7800.0, -235200.0, -224200.0
SHAPE = (220, 300)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _world() -> tuple[np.ndarray, np.ndarray, shapely.Polygon]:
    """Detected block top-left, no-data block right, AOI a disc leaving the corners out."""
    product = np.zeros(SHAPE, "uint8")
    product[40:80, 60:110] = 1
    product[100:160, 170:240] = 255
    ys = np.linspace(N, S, SHAPE[0])
    xs = np.linspace(W, E, SHAPE[1])
    aoi = shapely.Point((W + E) / 2, (S + N) / 2).buffer(5400)
    inside = shapely.contains_xy(aoi, *np.meshgrid(xs, ys))
    product[~inside] = 255  # as products are: outside the AOI is nodata too
    return product, inside, aoi


def _read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    return (np.asarray(matplotlib.image.imread(path))[..., :3] * 255).round().astype(int)


def _colour_at(img: np.ndarray, layout: QuicklookLayout, x: float, y: float) -> tuple[int, ...]:
    """The commonest colour of the 9 x 9 pixels around a map point (a faint graticule line
    may cross the point itself)."""
    row, col = layout.pixel(x, y)
    window = img[row - 4 : row + 5, col - 4 : col + 5].reshape(-1, 3)
    colours, counts = np.unique(window, axis=0, return_counts=True)
    return tuple(int(v) for v in colours[counts.argmax()])


def test_no_data_and_outside_differ_and_match_the_legend(tmp_path: Path) -> None:
    product, inside, aoi = _world()
    out = tmp_path / "q.png"
    layout = render_quicklook(
        product, (W, E, S, N), out, crs=CRS, title="変化検出 change", inside=inside, outline=aoi
    )
    img = _read_png(out)
    px = (E - W) / SHAPE[1]

    def centre(r: float, c: float) -> tuple[float, float]:
        return W + (c + 0.5) * px, N - (r + 0.5) * (N - S) / SHAPE[0]

    no_data = _colour_at(img, layout, *centre(130, 205))  # inside the AOI, 255
    outside = _colour_at(img, layout, *centre(8, 8))  # the corner, outside the disc
    not_detected = _colour_at(img, layout, *centre(110, 100))
    detected = _colour_at(img, layout, *centre(60, 85))
    assert no_data != outside
    assert no_data == _rgb(NO_DATA_COLOUR)
    assert outside == _rgb(OUTSIDE_COLOUR)
    assert not_detected == _rgb(NOT_DETECTED_COLOUR)
    assert detected == _rgb("#d7301f")
    # every class is in the legend, in both languages, with the colour drawn on the map
    labels = dict(legend_entries("検出 detected", "#d7301f"))
    assert labels == {
        "対象範囲外 outside the AOI": OUTSIDE_COLOUR,
        "観測なし no valid observation": NO_DATA_COLOUR,
        "未検出 not detected": NOT_DETECTED_COLOUR,
        "検出 detected": "#d7301f",
    }
    assert len({no_data, outside, not_detected, detected}) == 4


def _texts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kwargs: object) -> list[str]:
    """Every text drawn on the figure (labels, ticks, legend, scale bar)."""
    import matplotlib.pyplot as plt

    seen: list[str] = []
    real_savefig = plt.Figure.savefig

    def spy(fig: plt.Figure, *args: object, **kw: object) -> None:
        from matplotlib.text import Text

        seen.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        real_savefig(fig, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(plt.Figure, "savefig", spy)
    product, inside, aoi = _world()
    render_quicklook(
        product, (W, E, S, N), tmp_path / "t.png", crs=CRS, title="t", inside=inside, outline=aoi,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return seen


def test_degree_ticks_scale_bar_north_arrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(monkeypatch, tmp_path)
    lon = [t for t in texts if t.endswith("°E")]
    lat = [t for t in texts if t.endswith("°N")]
    assert lon and lat, texts
    assert all(131.9 <= float(t[:-2]) <= 132.1 for t in lon)
    assert all(33.85 <= float(t[:-2]) <= 34.0 for t in lat)
    assert not any(t.startswith("-2") for t in texts)  # no projected metres on the axes
    assert "5 km" in texts  # 15 km wide: a 5 km bar
    assert "N 北" in texts
    legend = {"対象範囲外 outside the AOI", "観測なし no valid observation", "対象範囲 AOI"}
    assert legend <= set(texts)


def test_reference_areas_named_where_they_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    west = shapely.box(W - 5000, S - 5000, (W + E) / 2, N + 5000)
    east = shapely.box((W + E) / 2, S - 5000, E + 5000, N + 5000)
    far = shapely.box(W + 90000, S, W + 95000, N)
    ref = ReferenceAreas(
        areas=(("光市 Hikari", west), ("田布施町 Tabuse", east), ("萩市 Hagi", far)),
        legend="市町村界 municipal boundaries",
    )
    texts = _texts(monkeypatch, tmp_path, reference=ref)
    assert "光市 Hikari" in texts and "田布施町 Tabuse" in texts
    assert "萩市 Hagi" not in texts  # off the map
    assert "市町村界 municipal boundaries" in texts


def test_reference_areas_from_boundaries_or_the_prefecture(boundaries_path: Path) -> None:
    from yamasat.catalogs.extent.boundaries import load_boundaries
    from yamasat.catalogs.extent.reference_map import reference_areas

    munis = reference_areas(load_boundaries(boundaries_path), CRS)
    names = [n for n, _ in munis.areas]
    assert "防府市 Hofu" in names and len(names) == 19 and munis.show_names
    # a new user's machine: no boundaries configured, the prefecture outline from japanmap
    pref = reference_areas(None, CRS)
    ((name, geom),) = pref.areas
    assert name == "山口県 Yamaguchi Prefecture" and "prefecture" in pref.legend
    assert geom.contains(shapely.Point((W + E) / 2, N))  # in metres, around the demo extent


def test_japanese_renders_without_missing_glyphs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert fonts.japanese_font() == "IPAexGothic"  # the declared package's font
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with plt.rc_context({"font.family": fonts.font_families()}):
            fig, ax = plt.subplots()
            ax.set_title("浸水域 山口県防府市 観測なし")
            fig.savefig(tmp_path / "ja.png")
            plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing
    assert "findfont" not in caplog.text


def test_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from yamasat.errors import FontMissingError

    monkeypatch.setattr(fonts, "_candidates", list)
    fonts.japanese_font.cache_clear()
    try:
        with pytest.raises(FontMissingError, match="matplotlib-fontja"):
            fonts.japanese_font()
    finally:
        fonts.japanese_font.cache_clear()


def test_quicklook_from_cog_masks_outside_the_aoi(tmp_path: Path) -> None:
    import rasterio
    from rasterio.transform import from_bounds

    product, _, aoi = _world()
    cog = tmp_path / "p.tif"
    transform = from_bounds(W, S, E, N, SHAPE[1], SHAPE[0])
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "height": SHAPE[0],
               "width": SHAPE[1], "crs": CRS, "transform": transform, "nodata": 255}  # fmt: skip
    with rasterio.open(cog, "w", **profile) as dst:
        dst.write(product, 1)
    written = quicklook_from_cog(cog, tmp_path / "q.png", title="t", outline=aoi, colour="#2166ac")
    img = _read_png(written.path)
    colours = {tuple(int(v) for v in p) for p in img.reshape(-1, 3)}
    assert _rgb(OUTSIDE_COLOUR) in colours and _rgb(NO_DATA_COLOUR) in colours
    assert _rgb("#2166ac") in colours
