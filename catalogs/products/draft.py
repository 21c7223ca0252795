"""A product being assembled in its staging folder: its files and their STAC assets, and the
manifest that keeps its rasters for a resume when finishing it failed."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odc.geo.geobox import GeoBox

from ...processing.write import COG_MEDIA_TYPE, WrittenFile
from .items import AssetSpec

__all__ = ["KEPT", "Draft", "draft_from_kept", "keep_for_resume", "read_kept_manifest"]

log = logging.getLogger(__name__)

KEPT = "rasters"
"""checkpoint folder (per product) of the rasters of a run that failed after writing them"""
_MANIFEST = "draft.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@dataclass
class Draft:
    """A product being assembled in its staging folder."""

    kind: str
    item_id: str
    staging: Path
    geobox: GeoBox
    inputs: list[str]
    parameters: dict[str, Any]
    files: dict[str, WrittenFile] = field(default_factory=dict)
    assets: dict[str, AssetSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    qa: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    synthetic: bool = False
    rasters_done: bool = False
    """every raster is written and checked: what is left is finishing the product"""
    inside_px: int | None = None
    """pixels of the grid inside the AOI (set with ``rasters_done``)"""
    warnings_at_rasters: list[str] = field(default_factory=list)
    """the warnings when the rasters were done (what a resumed finish starts from)"""

    def rasters_written(self, inside_px: int) -> None:
        """Every raster is written and checked; ``inside_px`` pixels of the grid are in the
        AOI. From here on a failure keeps the rasters for a resume (:func:`keep_for_resume`)."""
        self.inside_px = inside_px
        self.rasters_done = True
        self.warnings_at_rasters = list(self.warnings)

    def add_cog(self, key: str, wf: WrittenFile, title: str, band: dict[str, Any]) -> None:
        """Record a written COG as an asset of the product."""
        self.files[key] = wf
        self.assets[key] = AssetSpec(
            wf.path, wf.size, wf.sha256, COG_MEDIA_TYPE, ("data",), title, (band,)
        )

    def add_file(
        self, key: str, wf: WrittenFile, media_type: str, roles: tuple[str, ...], title: str
    ) -> None:
        """Record another written file (table, picture) as an asset."""
        self.files[key] = wf
        self.assets[key] = AssetSpec(wf.path, wf.size, wf.sha256, media_type, roles, title)


def _grid_of(geobox: GeoBox) -> dict[str, Any]:
    return {
        "crs": str(geobox.crs),
        "shape": [int(n) for n in geobox.shape],
        "affine": [float(v) for v in tuple(geobox.affine)[:6]],
    }


def keep_for_resume(draft: Draft, final: Path) -> None:
    """Move the draft's COGs and a manifest into the folder ``final``; built aside and
    renamed into place, so a folder with a manifest is always complete."""
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = {}
    for key, wf in draft.files.items():
        spec = draft.assets[key]
        if spec.media_type != COG_MEDIA_TYPE:  # tables and pictures: finishing makes them again
            continue
        name = wf.path.name
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unexpected raster file name {name!r}")
        os.replace(wf.path, partial / name)  # same file system: the output root
        files[key] = {
            "name": name,
            "size": wf.size,
            "sha256": wf.sha256,
            "media_type": spec.media_type,
            "roles": list(spec.roles),
            "title": spec.title,
            "raster_bands": [dict(b) for b in spec.raster_bands],
        }
    manifest = {
        "kind": draft.kind,
        "item_id": draft.item_id,
        "grid": _grid_of(draft.geobox),
        "inputs": draft.inputs,
        "parameters": draft.parameters,
        "warnings": draft.warnings_at_rasters,
        "qa": draft.qa,
        "threshold": draft.threshold,
        "synthetic": draft.synthetic,
        "inside_px": draft.inside_px,
        "files": files,
    }
    tmp = partial / f".{_MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, default=str), encoding="utf-8")
    os.replace(tmp, partial / _MANIFEST)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    log.info("kept the rasters of %s for a resume in %s", draft.item_id, final)


def read_kept_manifest(folder: Path, kind: str, item_id: str, geobox: GeoBox) -> dict[str, Any]:
    """The manifest of the rasters kept in ``folder``, with each file's ``path``; raises
    ValueError (or OSError, KeyError, TypeError) when it is not this product's on this grid."""
    manifest: dict[str, Any] = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    if manifest["kind"] != kind or manifest["item_id"] != item_id:
        raise ValueError("they belong to another product")
    if manifest["grid"] != _grid_of(geobox):
        raise ValueError("the AOI's grid changed since they were written")
    for key, f in manifest["files"].items():
        if not _SAFE_NAME.match(str(f["name"])):
            raise ValueError(f"{key}: unexpected file name {f['name']!r}")
    manifest["files"] = {k: {**f, "path": folder / f["name"]} for k, f in manifest["files"].items()}
    return manifest


def draft_from_kept(manifest: dict[str, Any], staging: Path, geobox: GeoBox) -> Draft:
    """The draft of a verified manifest (:func:`read_kept_manifest`), its files linked into
    ``staging`` (the kept copies stay until the product is out)."""
    draft = Draft(
        kind=manifest["kind"],
        item_id=manifest["item_id"],
        staging=staging,
        geobox=geobox,
        inputs=list(manifest["inputs"]),
        parameters=dict(manifest["parameters"]),
        warnings=list(manifest["warnings"]),
        qa=dict(manifest["qa"]),
        threshold=manifest["threshold"],
        synthetic=bool(manifest["synthetic"]),
    )
    for key, f in manifest["files"].items():
        path = staging / f["name"]
        os.link(f["path"], path)
        wf = WrittenFile(path, int(f["size"]), str(f["sha256"]))
        draft.files[key] = wf
        draft.assets[key] = AssetSpec(
            path, wf.size, wf.sha256, f["media_type"], tuple(f["roles"]), f["title"],
            tuple(f["raster_bands"]),
        )  # fmt: skip
    draft.rasters_written(int(manifest["inside_px"]))
    return draft
