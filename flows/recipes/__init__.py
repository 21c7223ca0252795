"""The products, one recipe module each: what a product reads, its parameters, its analysis
and its assets. A new product is one module here and one line in :data:`RECIPES`; the
skeleton they all go through is :mod:`yamasat.flows.product_run`."""

from __future__ import annotations

from typing import Any

from ..product_run import Recipe
from .burn_mapping import Burn
from .change_detection import Change
from .flood_mapping_fused import FloodFused
from .flood_mapping_s1 import FloodS1
from .flood_mapping_s2 import FloodS2
from .landslide_mapping import Landslide

__all__ = ["BURN", "CHANGE", "FLOOD_FUSED", "FLOOD_S1", "FLOOD_S2", "LANDSLIDE", "RECIPES"]

RECIPES: dict[str, Recipe[Any]] = {
    r.name: r for r in (Change(), FloodS1(), FloodS2(), FloodFused(), Landslide(), Burn())
}
"""every product, by recipe name"""

CHANGE = RECIPES["change"]
FLOOD_S1 = RECIPES["flood-s1"]
FLOOD_S2 = RECIPES["flood-s2"]
FLOOD_FUSED = RECIPES["flood-fused"]
LANDSLIDE = RECIPES["landslide"]
BURN = RECIPES["burn"]
