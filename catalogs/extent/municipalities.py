"""The 19 municipalities of Yamaguchi Prefecture (13 cities, 6 towns).

Codes are the five-digit local-government codes (全国地方公共団体コード without the check digit)
used by MLIT N03 (property ``N03_007``). Romaji slugs are lower-case Hepburn without macrons,
as users type them (``hofu``, ``suo-oshima``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUNICIPALITIES", "PREFECTURE", "Municipality", "by_code", "by_slug"]


@dataclass(frozen=True)
class Municipality:
    """One municipality: code, slug and names."""

    code: str
    """five-digit local-government code, e.g. ``35206``"""
    slug: str
    """romaji slug, e.g. ``hofu``"""
    name_ja: str
    """Japanese name, e.g. ``防府市``"""
    name_en: str
    """English name, e.g. ``Hofu City``"""
    kind: str
    """``city`` or ``town``"""


@dataclass(frozen=True)
class Prefecture:
    """The prefecture as a whole."""

    code: str
    slug: str
    name_ja: str
    name_en: str


PREFECTURE = Prefecture(
    code="35", slug="yamaguchi", name_ja="山口県", name_en="Yamaguchi Prefecture"
)

_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("35201", "shimonoseki", "下関市", "Shimonoseki City", "city"),
    ("35202", "ube", "宇部市", "Ube City", "city"),
    ("35203", "yamaguchi-city", "山口市", "Yamaguchi City", "city"),
    ("35204", "hagi", "萩市", "Hagi City", "city"),
    ("35206", "hofu", "防府市", "Hofu City", "city"),
    ("35207", "kudamatsu", "下松市", "Kudamatsu City", "city"),
    ("35208", "iwakuni", "岩国市", "Iwakuni City", "city"),
    ("35210", "hikari", "光市", "Hikari City", "city"),
    ("35211", "nagato", "長門市", "Nagato City", "city"),
    ("35212", "yanai", "柳井市", "Yanai City", "city"),
    ("35213", "mine", "美祢市", "Mine City", "city"),
    ("35215", "shunan", "周南市", "Shunan City", "city"),
    ("35216", "sanyo-onoda", "山陽小野田市", "Sanyo-Onoda City", "city"),
    ("35305", "suo-oshima", "周防大島町", "Suo-Oshima Town", "town"),
    ("35321", "waki", "和木町", "Waki Town", "town"),
    ("35341", "kaminoseki", "上関町", "Kaminoseki Town", "town"),
    ("35343", "tabuse", "田布施町", "Tabuse Town", "town"),
    ("35344", "hirao", "平生町", "Hirao Town", "town"),
    ("35502", "abu", "阿武町", "Abu Town", "town"),
)

MUNICIPALITIES: tuple[Municipality, ...] = tuple(Municipality(*row) for row in _ROWS)

_BY_CODE = {m.code: m for m in MUNICIPALITIES}
_BY_SLUG = {m.slug: m for m in MUNICIPALITIES}


def by_code(code: str) -> Municipality | None:
    """The municipality with this five-digit code, or None."""
    return _BY_CODE.get(code.strip())


def by_slug(slug: str) -> Municipality | None:
    """The municipality with this romaji slug (case and ``_``/space insensitive), or None."""
    key = slug.strip().lower().replace("_", "-").replace(" ", "-")
    return _BY_SLUG.get(key)
