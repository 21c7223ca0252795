"""Staging folders and who owns them: none outlives its run.

A product is computed in ``<out>/.staging/<item id>/`` and renamed into the catalog when it
is published; the folder is removed whatever else ends the run, except when the process is
killed. :func:`claim_staging` notes the owner (host and process id) beside the folder
(``<item id>.owner``) and first sweeps away the staging of owners on this host whose process
is gone (:func:`sweep_stale_staging`), so a run never leaves behind staging older than itself
that a killed run made. A folder whose owner is alive, on another host, or unknown (written
before owners were noted) is left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

__all__ = ["claim_staging", "release_own_staging", "release_staging", "sweep_stale_staging"]

log = logging.getLogger(__name__)


def _owner_file(staging: Path) -> Path:
    return staging.parent / f"{staging.name}.owner"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_stale_staging(out_root: Path) -> list[Path]:
    """Remove the staging folders under ``out_root`` whose owner, on this host, is gone;
    returns them."""
    root = out_root / ".staging"
    removed: list[Path] = []
    for owner in sorted(root.glob("*.owner")) if root.is_dir() else []:
        try:
            host, pid = owner.read_text(encoding="utf-8").split()
            if host != socket.gethostname() or _alive(int(pid)):
                continue
        except (OSError, ValueError):
            continue
        folder = root / owner.name[: -len(".owner")]
        shutil.rmtree(folder, ignore_errors=True)
        owner.unlink(missing_ok=True)
        log.warning("removed %s: staging of a run (process %s) that is gone", folder, pid)
        removed.append(folder)
    return removed


def claim_staging(out_root: Path, item_id: str) -> Path:
    """A fresh, empty staging folder for ``item_id`` under ``out_root``, noted as this
    process's, after sweeping away staging left by processes that are gone."""
    sweep_stale_staging(out_root)
    staging = out_root / ".staging" / item_id
    shutil.rmtree(staging, ignore_errors=True)
    # the owner first: a folder of this run never exists without its note, so that
    # release_own_staging can remove it whenever a stop lands
    staging.parent.mkdir(parents=True, exist_ok=True)
    _owner_file(staging).write_text(_this_owner(), encoding="utf-8")
    staging.mkdir()
    return staging


def _this_owner() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def release_own_staging(out_root: Path, item_id: str) -> None:
    """Remove the staging folder of ``item_id`` under ``out_root`` when this process owns
    it: safe to call whatever point a run stopped at (before its claim, during it, after its
    release, or where another run owns the folder)."""
    staging = out_root / ".staging" / item_id
    try:
        note = _owner_file(staging).read_text(encoding="utf-8")
    except OSError:
        return
    # an empty note is this run's, stopped between creating its note and writing it (a CI
    # run caught it): the product's lock keeps any other live run off this item
    if note in ("", _this_owner()):
        release_staging(staging)


def release_staging(staging: Path) -> None:
    """Remove ``staging`` (if still there: a published product's has been renamed) and its
    owner note."""
    shutil.rmtree(staging, ignore_errors=True)
    _owner_file(staging).unlink(missing_ok=True)
