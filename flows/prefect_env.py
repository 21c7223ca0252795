"""Environment that makes Prefect start reliably and offline with no server configured.

With no ``PREFECT_API_URL`` Prefect 3 starts a temporary local server per process (14–28 s
here). These defaults keep it local and quiet; values already set in the environment win.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["prefect_defaults"]


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
