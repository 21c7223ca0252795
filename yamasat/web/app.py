"""The web view as an ASGI app (Starlette): the map, a page per product, the indicator and the
recent runs, read-only.

Routes (every page takes ``?lang=ja|en``):

* ``/`` the map of products over the base layer, with the list of products;
* ``/products/{id}`` provenance, QA, the per-municipality table, downloads;
  ``/products/{id}/assets/{key}`` and ``/products/{id}/item.json`` the files;
* ``/tiles/{id}/{z}/{x}/{y}.png`` XYZ tiles of a product's main raster;
* ``/indicator`` the tally against the target line, evidence and exclusions;
  ``/indicator/chart.png`` its chart; ``/api/tally.json`` the tally as
  ``yamasat solutions tally --format json`` prints it;
* ``/runs`` the recent runs; ``/api/products.geojson``, ``/api/boundaries.geojson``.

Any method other than GET and HEAD is answered 405: the view never writes. Pages allow no
resource from another host (Content-Security-Policy ``default-src 'self'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..catalogs.registry import open_registry
from ..catalogs.registry.formats import TITLE, TITLE_EN, tally_dict
from ..errors import RegistryUnavailableError, UnknownProductError
from .data import BaseLayer, WebCatalog, base_layer, check_registry_exists
from .i18n import pick_lang, words
from .pages import render_page
from .tiles import render_tile

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["READ_ONLY_MESSAGE", "ReadOnly", "Views", "create_app"]

READ_ONLY_MESSAGE = (
    "yamasat web is read-only: {method} is refused (only GET and HEAD are served); change "
    "the registry with the yamasat commands (yamasat solutions ..., yamasat run ...)"
)

#: no script, style, image, frame or connection from another host; no inline script
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


class ReadOnly:
    """ASGI middleware: 405 with a plain message for any method but GET and HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            text = READ_ONLY_MESSAGE.format(method=scope["method"])
            response = Response(
                text + "\n",
                status_code=405,
                media_type="text/plain",
                headers={"Allow": "GET, HEAD"},
            )
            await response(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _lang(request: Request) -> str:
    return pick_lang(request.query_params, request.headers.get("accept-language"))


class Views:
    """The endpoints over one :class:`WebCatalog` (opened by the app's lifespan)."""

    def __init__(self, settings: Settings, base: BaseLayer) -> None:
        self.settings = settings
        self.base = base
        self._catalog: WebCatalog | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        """Open the registry for the life of the server."""
        registry = open_registry(self.settings)
        self._catalog = WebCatalog(self.settings, registry)
        try:
            yield
        finally:
            self._catalog = None
            registry.close()

    @property
    def catalog(self) -> WebCatalog:
        if self._catalog is None:
            raise RegistryUnavailableError("the web view's registry is not open (app not started)")
        return self._catalog

    def page(
        self, request: Request, template: str, title: str, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        text = render_page(
            template,
            lang=_lang(request),
            path=request.url.path,
            title=title,
            timezone=self.settings.orchestration.timezone,
            **ctx,
        )
        return HTMLResponse(text, status_code=status)

    def map_page(self, request: Request) -> Response:
        w = words(_lang(request))
        products = self.catalog.products()
        return self.page(
            request, "map.html", w["map_title"], page="map", base=self.base, products=products
        )

    def product_page(self, request: Request) -> Response:
        view = self.catalog.product(request.path_params["product_id"])
        stats = dict(view.props.get("yamasat:statistics", {}))
        accuracy = dict(view.props.get("yamasat:accuracy") or stats.get("accuracy") or {})
        w = words(_lang(request))
        return self.page(
            request, "product.html", f"{w['product']}: {view.id}", page="product", p=view,
            stats=stats, accuracy=accuracy, municipalities=self.catalog.municipality_rows(view),
        )  # fmt: skip

    def asset(self, request: Request) -> Response:
        view = self.catalog.product(request.path_params["product_id"])
        path = self.catalog.asset_path(view, request.path_params["key"])
        return FileResponse(path, filename=path.name)

    def item_json(self, request: Request) -> Response:
        view = self.catalog.product(request.path_params["product_id"])
        path = view.folder / f"{view.id}.json"
        if not path.is_file():
            raise UnknownProductError(f"the item JSON of product {view.id} is missing ({path})")
        return FileResponse(path, filename=path.name, media_type="application/geo+json")

    def tile(self, request: Request) -> Response:
        view = self.catalog.product(request.path_params["product_id"])
        if view.main_asset is None:
            raise UnknownProductError(f"product {view.id} has no {view.kind!r} raster to draw")
        path = self.catalog.asset_path(view, view.main_asset)
        p = request.path_params
        png = render_tile(path, view.kind, int(p["z"]), int(p["x"]), int(p["y"]))
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})

    def products_geojson(self, request: Request) -> Response:
        lang = _lang(request)
        w = words(lang)
        features = []
        for v in self.catalog.products():
            if v.item.get("geometry") is None:
                continue
            props = {
                "id": v.id,
                "kind": v.kind,
                "name": f"{w.kind(v.kind)} {v.props.get('yamasat:after', '')}",
                "bbox": v.bbox,
                "page": f"/products/{v.id}?lang={lang}",
                "tiles": f"/tiles/{v.id}/{{z}}/{{x}}/{{y}}.png" if v.main_asset else None,
            }
            features.append(
                {"type": "Feature", "geometry": v.item["geometry"], "properties": props}
            )
        return JSONResponse({"type": "FeatureCollection", "features": features})

    def boundaries_geojson(self, _request: Request) -> Response:
        return JSONResponse(self.base.geojson)

    def indicator_page(self, request: Request) -> Response:
        t = self.catalog.tally()
        counted = [c for r in t.rows for c in r.counted]
        w = words(_lang(request))
        return self.page(
            request, "indicator.html", w["indicator"], page="indicator", t=t, counted=counted,
            title_ja=TITLE, title_en=TITLE_EN,
        )  # fmt: skip

    def chart(self, _request: Request) -> Response:
        from ..catalogs.registry.report import render_chart

        return Response(render_chart(self.catalog.tally()), media_type="image/png")

    def tally_json(self, _request: Request) -> Response:
        return JSONResponse(tally_dict(self.catalog.tally()))

    def runs_page(self, request: Request) -> Response:
        runs = self.catalog.runs()
        known = {v.id for v in self.catalog.products()}
        title = words(_lang(request))["runs"]
        return self.page(request, "runs.html", title, page="runs", runs=runs, known=known)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        title = words(_lang(request))["not_found"]
        message = str(getattr(exc, "detail", None) or exc)
        return self.page(request, "error.html", title, status=404, message=message)


def create_app(settings: Settings, *, allowed_hosts: Sequence[str] | None = None) -> ASGIApp:
    """The web view over the configured registry and products (read-only).

    ``allowed_hosts``: the only ``Host`` headers answered (others get 400), so that a web
    page elsewhere cannot read a loopback server through a name it rebinds to 127.0.0.1;
    None answers any. Fails before serving anything when the registry does not exist yet or
    the configured boundaries file cannot be read, naming what to do.
    """
    check_registry_exists(settings)
    v = Views(settings, base_layer(settings))
    routes = [
        Route("/", v.map_page),
        Route("/products/{product_id}", v.product_page),
        Route("/products/{product_id}/item.json", v.item_json),
        Route("/products/{product_id}/assets/{key}", v.asset),
        Route("/tiles/{product_id}/{z:int}/{x:int}/{y:int}.png", v.tile),
        Route("/indicator", v.indicator_page),
        Route("/indicator/chart.png", v.chart),
        Route("/runs", v.runs_page),
        Route("/api/products.geojson", v.products_geojson),
        Route("/api/boundaries.geojson", v.boundaries_geojson),
        Route("/api/tally.json", v.tally_json),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=v.lifespan,
        exception_handlers={UnknownProductError: v.not_found, 404: v.not_found},
    )
    return ReadOnly(app)
