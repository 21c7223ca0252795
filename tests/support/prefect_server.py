"""A real Prefect server on loopback for tests that need one (schedules, deployments,
concurrency limits): ``prefect server start`` in its own home, stopped at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.postgres import free_port

__all__ = [
    "PrefectServer",
    "prefect_env",
    "prefect_server_process",
    "running_prefect_server",
    "stop_serving",
]


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """Environment for a subprocess talking to the test server (or starting it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def stop_serving(process: subprocess.Popen[bytes], wait_s: float = 30.0) -> None:
    """Stop a ``yamasat serve`` (or worker) process as Ctrl-C would; SIGKILL its session if
    it has not ended within ``wait_s``."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class PrefectServer:
    """A running test server: its API URL and its process (leader of its own session)."""

    api: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """End it at once, as a crash or a cut network would (SIGKILL to its session)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def running_prefect_server(
    home: Path, *, timeout_s: float = 180.0, extra_env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Start ``prefect server start`` on a free loopback port; yields its API URL.
    ``extra_env`` adds server settings (for example its database URL)."""
    with prefect_server_process(home, timeout_s=timeout_s, extra_env=extra_env) as server:
        yield server.api


@contextmanager
def prefect_server_process(
    home: Path, *, timeout_s: float = 180.0, extra_env: Mapping[str, str] | None = None
) -> Iterator[PrefectServer]:
    """As :func:`running_prefect_server`, yielding the process too (a test may kill it)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    exe = Path(sys.executable).with_name("prefect")
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_env(home) | dict(extra_env or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer within {timeout_s} s")
            time.sleep(0.5)
        yield PrefectServer(api, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
