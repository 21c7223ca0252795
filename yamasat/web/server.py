"""Serving the web view with uvicorn: loopback by default, any other address by choice.

The socket is bound before uvicorn starts, so that ``--port 0`` (a free port) works and the
printed URL is the real one, and a port in use fails with a clear message.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import WebServerError

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["LOOPBACK", "bind", "exposure_warning", "is_loopback", "serve"]

LOOPBACK = "127.0.0.1"
"""The default address: only this machine can connect"""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """The warning for serving on ``host``, or None on loopback."""
    if is_loopback(host):
        return None
    return (
        f"serving on {host}, not loopback: anyone who can reach this machine on that address "
        "can read the products, the registry's solutions and the run records (the view is "
        "read-only and has no login); use the default 127.0.0.1 unless that is what you want"
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise WebServerError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port "
            "(0 picks a free one) or stop what uses it"
        ) from e
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings,
    *,
    host: str = LOOPBACK,
    port: int = 8765,
    announce: Callable[[str], None] = print,
) -> None:
    """Build the app, bind ``host:port``, announce the URL and serve until stopped."""
    import uvicorn

    from .app import create_app

    # on loopback only loopback names are answered (no DNS rebinding to this server)
    allowed = ["127.0.0.1", "localhost", "[::1]"] if is_loopback(host) else None
    app = create_app(settings, allowed_hosts=allowed)
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    announce(f"yamasat web: http://{shown}:{real_port}/ (read-only; Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
