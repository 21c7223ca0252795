"""Shared test fixtures: paths to ../shared/fixtures, network guard, Prefect/GDAL quietness."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# pytest-xdist gives its workers the controlling terminal's COLUMNS (80 when piped); the CLI
# reads a set COLUMNS as the user's wish, so a worker would print tables cut to 80 columns
# Prefect's own default (20 s) is too short for a local server started while both workers
# are busy; set before Prefect is imported, which reads its settings once
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YAMASAT_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures"
BOUNDARIES = FIXTURES / "boundaries" / "N03-21_35_210101.json"
STAC_FIXTURES = FIXTURES / "stac"


@pytest.fixture(scope="session")
def boundaries_path() -> Path:
    """The real N03 boundaries of Yamaguchi (never copied into the repo)."""
    if not BOUNDARIES.is_file():
        pytest.skip(f"shared fixture missing: {BOUNDARIES} (set YAMASAT_SHARED)")
    return BOUNDARIES


@pytest.fixture(scope="session")
def stac_fixtures() -> Path:
    """Folder of real STAC metadata fixtures."""
    if not STAC_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures missing: {STAC_FIXTURES} (set YAMASAT_SHARED)")
    return STAC_FIXTURES


_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if isinstance(host, str):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if host != "localhost" and (ip is None or not ip.is_loopback):
            raise OSError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only loopback connections are allowed in tests."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


#: where GDAL (libcurl bypasses the socket guard above) sends what is not on loopback: a
#: dead proxy, so a test that would reach the network fails at once without traffic
DEAD_GDAL_PROXY = {
    "GDAL_HTTP_PROXY": "http://127.0.0.1:9",
    "GDAL_HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session", autouse=True)
def _gdal_dead_proxy() -> Iterator[None]:
    """GDAL's HTTP goes to a dead loopback proxy except for loopback itself (libcurl honours
    NO_PROXY; measured with GDAL 3.10): tests never leave the machine through GDAL."""
    saved = {k: os.environ.get(k) for k in DEAD_GDAL_PROXY}
    os.environ.update(DEAD_GDAL_PROXY)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session", autouse=True)
def _default_output_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Flows record their runs in the configured registry: keep it out of the working tree."""
    if "YAMASAT_STORAGE__OUTPUT_ROOT" in os.environ:
        yield
        return
    os.environ["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(tmp_path_factory.mktemp("default-out"))
    try:
        yield
    finally:
        os.environ.pop("YAMASAT_STORAGE__OUTPUT_ROOT", None)


@pytest.fixture(scope="session", autouse=True)
def _threaded_dask() -> Iterator[None]:
    """Flow runs compute on threads, whatever the machine's size: starting a LocalCluster per
    run costs seconds (tests/test_dask_cluster.py tests the cluster with its own settings)."""
    if "YAMASAT_DASK__SCHEDULER" in os.environ:
        yield
        return
    os.environ["YAMASAT_DASK__SCHEDULER"] = "threads"
    try:
        yield
    finally:
        os.environ.pop("YAMASAT_DASK__SCHEDULER", None)


@pytest.fixture(scope="session", autouse=True)
def _free_dashboard_port() -> Iterator[None]:
    """LocalClusters of the tests pick a free dashboard port: 8787 may be taken by another
    cluster on the machine (distributed then warns, which the tests' filters make an error)."""
    if "YAMASAT_DASK__DASHBOARD_ADDRESS" in os.environ:
        yield
        return
    os.environ["YAMASAT_DASK__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    try:
        yield
    finally:
        os.environ.pop("YAMASAT_DASK__DASHBOARD_ADDRESS", None)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder for CLI and flow runs: products (and the registry) in ``products/``."""
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(tmp_path / "products"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """``build(folder)`` once per test session, shared by every pytest-xdist worker: the first
    worker builds under a lock in the session's common temporary folder, the others wait and
    reuse it (a folder without its completion mark, from a crashed build, is built again)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above each worker's own
    folder = base / f"shared-{name}"
    done = base / f"shared-{name}.complete"
    with FileLock(str(base / f"shared-{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder / "archive")
            done.touch()
    return folder / "archive"


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample archive (demo extent across 132°E), built once per test session
    (once for all workers under pytest-xdist). Tests read it and never change it."""
    from yamasat.catalogs.sample import build_sample

    return _built_once(tmp_path_factory, "sample", build_sample)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it is slow to start)."""
    from yamasat.flows.prefect_env import prefect_defaults

    prefect_defaults(Path(os.environ.get("TMPDIR", "/tmp")) / f"yamasat-prefect-{os.getpid()}")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory, boundaries_path: Path) -> object:
    """Products, solutions and runs for the web view's tests, built once (tests/support/
    web_world.py); the environment is set only while building: a test module that serves
    them sets YAMASAT_STORAGE__OUTPUT_ROOT to ``web_world.out`` itself."""
    from tests.support.web_world import build_web_world

    out = tmp_path_factory.mktemp("web") / "products"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(out))
        mp.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
        return build_web_world(out)


#: test files that take longest, longest first (measured with --durations): under pytest-xdist
#: each worker takes a whole file, so starting these first keeps one long file from running
#: alone at the end while the other worker idles
HEAVY_FIRST = (
    "test_accuracy_worlds.py",
    "test_registry.py",
    "test_disaster.py",
    "test_deployments.py",
    "test_demo.py",
    "test_fault_points.py",
    "test_flood_fusion.py",
    "test_api_lost.py",
    "test_rainfall_deployments.py",
    "test_notebook.py",
    "test_orchestration.py",
    "test_chunk_independence.py",
    "test_product_qa.py",
    "test_rainfall_watch.py",
    "test_python_api.py",
    "test_signals.py",
    "test_dask_cluster.py",
    "test_change_flow.py",
    "test_real_layouts.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the heavy files first (stable: the order within and among the others is kept)."""
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY_FIRST)))
