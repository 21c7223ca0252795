"""Stage checkpoints, so that a failed run can be resumed without repeating finished stages.

A run's stages write their (small, JSON-safe) results under
``<output_root>/.yamasat/checkpoints/<lineage>/<stage>.json``; the lineage is the id of the
first run of a resume chain. ``yamasat runs resume RUN`` starts a new run with the failed
run's parameters and lineage: stages with a checkpoint are taken from it, the others run.
Checkpoints of a lineage are removed when one of its runs completes. A product whose rasters
were all written when its run failed keeps them under ``<lineage>/rasters/<item id>/`` with
a manifest (:func:`yamasat.flows.publish.staged`), and the resume publishes them once they verify.

(Prefect can persist task results as well, but only into a storage block saved on the
server; these files live with the products, whichever server or none ran the flow.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["Checkpoints", "Lineage", "lineages"]

log = logging.getLogger(__name__)
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


class Checkpoints:
    """The checkpoint folder of one lineage of runs."""

    def __init__(self, output_root: Path, lineage: str) -> None:
        if not _SAFE.match(lineage) or set(lineage) == {"."}:
            raise ValueError(f"not a run id usable as a folder name: {lineage!r}")
        self.lineage = lineage
        self.folder = output_root / ".yamasat" / "checkpoints" / lineage

    def _path(self, stage: str) -> Path:
        if not _SAFE.match(stage) or set(stage) == {"."}:
            raise ValueError(f"bad stage name {stage!r}")
        return self.folder / f"{stage}.json"

    def load(self, stage: str) -> Any | None:
        """The saved result of ``stage``, or None when it has not finished in this lineage."""
        path = self._path(stage)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["value"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as e:
            log.warning("checkpoint %s is unreadable (%s); the stage runs again", path, e)
            return None

    def save(self, stage: str, value: Any) -> None:
        """Save the result of a finished stage (atomically: a crash leaves none or all)."""
        path = self._path(stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stage}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"stage": stage, "value": value}, f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def stages(self) -> list[str]:
        """The stages finished in this lineage."""
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def clear(self) -> None:
        """Forget the lineage (its run completed)."""
        shutil.rmtree(self.folder, ignore_errors=True)


class Lineage:
    """One lineage's checkpoint folder as found on disk: when last written, how big."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.id = folder.name
        files = [p for p in folder.rglob("*") if p.is_file()]
        stats = [p.stat() for p in files]
        self.bytes = sum(st.st_size for st in stats)
        self.last_used = max([st.st_mtime for st in stats] or [folder.stat().st_mtime])


def lineages(output_root: Path) -> list[Lineage]:
    """The lineages with checkpoints under ``output_root``, least recently used first."""
    root = output_root / ".yamasat" / "checkpoints"
    if not root.is_dir():
        return []
    found = [Lineage(p) for p in root.iterdir() if p.is_dir() and _SAFE.match(p.name)]
    return sorted(found, key=lambda lin: lin.last_used)
