"""``yamasat web``: the read-only web view over the products and the registry."""

from __future__ import annotations

from typing import Annotated

import typer

from .toolkit import err_console, print_rich, settings_of_invocation

__all__ = ["web"]


def web(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Default 127.0.0.1 (this machine only); another "
            "address lets others read the products and the registry, with a warning.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")
    ] = 8765,
) -> None:
    """Serve the web view: map of products, product pages, indicator, recent runs (read-only).

    It reads storage.output_root's registry and products (after `yamasat demo`, the demo's);
    open the printed URL in a browser. Ctrl-C stops it.
    """
    from ...web.server import exposure_warning, serve

    settings = settings_of_invocation()
    warning = exposure_warning(host)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {warning}", soft_wrap=True)
    serve(settings, host=host, port=port, announce=lambda s: print_rich(s, soft_wrap=True))
