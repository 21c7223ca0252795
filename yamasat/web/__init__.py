"""The web view (``yamasat web``): a small read-only web app over the product catalog and
the solutions registry — a map of products (tiles from the product COGs through rio-tiler,
over municipal outlines), a page per product, the indicator and the recent runs, in Japanese
and English. Leaflet is vendored in ``static/vendor/leaflet`` (no CDN): the pages request
nothing from any other host.

Imported only by the ``web`` command (starlette, uvicorn and rio-tiler load then).
"""

from __future__ import annotations

from .app import create_app
from .server import serve

__all__ = ["create_app", "serve"]
