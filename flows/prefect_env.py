"""Environment that makes Prefect start reliably and offline with no server configured.

With no ``PREFECT_API_URL`` Prefect 3 starts a temporary local server per process, which
takes seconds. These defaults keep it local and quiet; values already set in the environment
win.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["prefect_defaults", "prefect_run_settings"]


def prefect_defaults(home: Path | None = None) -> dict[str, str]:
    """Set offline-friendly Prefect settings unless the operator set them; returns them."""
    wanted = {
        "PREFECT_HOME": str((home or Path.cwd() / ".yamasat" / "prefect").resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_UI_ENABLED": "false",
    }
    applied = {k: os.environ.setdefault(k, v) for k, v in wanted.items()}
    Path(applied["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return applied


@contextmanager
def prefect_run_settings(settings: Settings) -> Iterator[None]:
    """Prefect settings for flow runs made in this process, from ``orchestration``: flow-run
    heartbeats on (every ``prefect_heartbeat_s`` seconds) or off (null)."""
    import prefect.settings as ps
    from prefect.settings import temporary_settings

    beat = settings.orchestration.prefect_heartbeat_s
    with temporary_settings(updates={ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: beat}):
        yield
