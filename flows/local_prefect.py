"""A Prefect API of the run's own for ``yamasat run`` when no ``PREFECT_API_URL`` is set.

**Why yamasat starts this server instead of letting Prefect start its temporary one.**
With no API URL, Prefect 3 starts a temporary server (``SubprocessASGIServer``: uvicorn in a
child process) in the CLI's own process group, and stops it only at interpreter exit. A
terminal's Ctrl-C, or ``kill -INT -PGID``, reaches that child too: the server dies at once,
while the flow engine still has to report the run's end, so the engine's client retries a
refused connection with back-off for minutes (its retries of ``ConnectError`` after a first
successful connection), and the run hangs or publishes long after the signal (issue 17).
Prefect offers no setting to start that child in a session of its own, and stopping it "in
order" from a signal handler would still race the signal that reached it first.

So, like the test suite (``tests/support/prefect_server.py``), yamasat starts the same
uvicorn app itself, but in a **new session** (no terminal or group signal reaches it),
points the run at it (``PREFECT_API_URL`` in temporary settings), and stops it **after** the
run has recorded its end and Prefect's log and event workers have drained: SIGTERM to its
group, then SIGKILL after :data:`STOP_WAIT_S`. Should the CLI be killed outright (SIGKILL),
the kernel sends the server SIGTERM (``PR_SET_PDEATHSIG``, Linux) so that none is orphaned.
Starting it costs what Prefect's temporary server costs (about 9 s here, most of it
importing the server); with ``PREFECT_API_URL`` set, nothing is started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import PrefectServerError

__all__ = ["STOP_WAIT_S", "LocalPrefectServer", "api_is_answering", "run_api"]

log = logging.getLogger(__name__)

#: how long a stopped server gets to exit on SIGTERM before it is killed (s)
STOP_WAIT_S = 5.0
#: how long Prefect's log and event workers get to send what they hold before the stop (s)
DRAIN_WAIT_S = 5.0


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: runs uvicorn after asking the kernel (Linux) to send it SIGTERM when its parent dies;
#: exits at once when the parent (argv[1]) is already gone
_LAUNCH = """
import contextlib, ctypes, os, runpy, signal, sys
with contextlib.suppress(OSError, AttributeError):
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
sys.argv = ["uvicorn", *sys.argv[2:]]
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


def api_is_answering(api_url: str, timeout_s: float) -> bool:
    """True when the Prefect API's ``{api_url}/health`` answers 200 within ``timeout_s``."""
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


class LocalPrefectServer:
    """Prefect's server app under uvicorn on a free loopback port, in a session of its own."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen[bytes]:
        import prefect

        self.home.mkdir(parents=True, exist_ok=True)
        self._log = (self.home / "server.log").open("ab")
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}  # fmt: skip
        env.pop("PREFECT_API_URL", None)
        return subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(os.getpid()),
             "--app-dir", str(prefect.__module_path__.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def start(self, timeout_s: float) -> None:
        """Start the server and wait until it answers; :class:`PrefectServerError` if it does
        not within ``timeout_s`` seconds."""
        started = time.monotonic()
        self.proc = self._spawn()
        while True:
            if self.proc.poll() is not None:
                raise PrefectServerError(
                    f"the local Prefect server exited ({self.proc.returncode}) while starting; "
                    f"see {self.home / 'server.log'}, or set PREFECT_API_URL to a running server"
                )
            if api_is_answering(self.api_url, 2.0):
                break
            if time.monotonic() - started > timeout_s:
                raise PrefectServerError(
                    f"the local Prefect server did not answer within {timeout_s:g} s "
                    "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); see "
                    f"{self.home / 'server.log'}, or set PREFECT_API_URL to a running server"
                )
            time.sleep(0.1)
        log.info("local Prefect server on %s in %.1f s", self.api_url, time.monotonic() - started)

    def stop(self) -> None:
        """SIGTERM to the server's group, SIGKILL after :data:`STOP_WAIT_S`; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _drain_prefect_workers() -> None:
    """Let Prefect's log and event workers send what they hold while the server is up."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=DRAIN_WAIT_S)
        except Exception as e:  # never let the clean-up mask the run's fate
            log.warning("Prefect's %s did not drain: %s", worker.__name__, e)


@contextlib.contextmanager
def run_api() -> Iterator[str | None]:
    """The Prefect API for the runs made inside: the configured ``PREFECT_API_URL`` (yields
    None, starts nothing), else a :class:`LocalPrefectServer` (yields its URL) stopped in
    order on the way out, whatever ended the block (see the module doc)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        yield None
        return
    server = LocalPrefectServer(Path(PREFECT_HOME.value()) / "local-server")
    try:
        server.start(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
        updates: dict[Any, Any] = {PREFECT_API_URL: server.api_url}
        with temporary_settings(updates=updates):
            try:
                yield server.api_url
            finally:
                _drain_prefect_workers()
    finally:
        server.stop()
