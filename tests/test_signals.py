"""Stopping a run with a signal (issue 17, item 1): the real ``yamasat run change`` in a
subprocess of its own session, on the sample archive, stopped while it computes.

Two tests share one loopback Prefect server (``PREFECT_API_URL``); the third lets the CLI
start its own (no ``PREFECT_API_URL``) and sends SIGINT to the whole group, as a terminal's
Ctrl-C does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.prefect_server import prefect_env, running_prefect_server
from yamasat.flows.demo import CHANGE_PERIODS

CLI = str(Path(sys.executable).with_name("yamasat"))
#: the longest a stop may take (issue 17)
STOP_WITHIN_S = 10.0
#: the longest a run may take to start computing (a temporary Prefect server included)
COMPUTING_WITHIN_S = 120.0


#: runs the CLI with SIGINT as a terminal's foreground job has it: a process started ignoring
#: SIGINT (a background job of a non-interactive shell, as a CI runner may start the tests)
#: passes SIG_IGN on to its children, and yamasat rightly keeps an inherited SIG_IGN
#: (``nohup``); these tests play a terminal's Ctrl-C (exec keeps the default disposition)
FOREGROUND = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
    CLI,
]  # fmt: skip


@pytest.fixture
def sigint_handled() -> Iterator[None]:
    """SIGINT handled in this process as in a foreground terminal, whatever the test runner
    was started with (see :data:`FOREGROUND`)."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One loopback Prefect server for the tests that do not test the CLI's own."""
    with running_prefect_server(tmp_path_factory.mktemp("prefect-signals")) as api:
        yield api


@dataclass
class Stopped:
    """A run that was stopped: its exit status, how long the stop took, its folders."""

    returncode: int
    stop_s: float
    out: Path
    env: dict[str, str]
    output: str


def _change_args(sample_root: Path, out: Path) -> list[str]:
    from yamasat.catalogs.sample import SampleManifest

    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    return ["run", "change", "--aoi", bbox, "--before", CHANGE_PERIODS[0],
            "--after", CHANGE_PERIODS[1], "--source", str(sample_root / "catalog.json"),
            "--out", str(out)]  # fmt: skip


def _computing(out: Path) -> bool:
    """True once the run has a product's staging folder: it is computing the product."""
    staging = out / ".staging"
    return staging.is_dir() and any(staging.iterdir())


def _run_then_stop(
    tmp_path: Path, sample_root: Path, api: str | None, sig: int, *, group: bool
) -> Stopped:
    """Start ``yamasat run change``, send ``sig`` (to its group or to it) once it computes,
    and wait for it to end."""
    out = tmp_path / "products"
    env = prefect_env(tmp_path / "prefect-home", api) | {"YAMASAT_STORAGE__OUTPUT_ROOT": str(out)}
    log = tmp_path / "run.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([*FOREGROUND, *_change_args(sample_root, out)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + COMPUTING_WITHIN_S
            while not _computing(out):
                assert proc.poll() is None, f"the run ended before computing:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"not computing:\n{log.read_text()}"
                time.sleep(0.02)
            sent = time.monotonic()
            (os.killpg if group else os.kill)(proc.pid, sig)
            try:
                code = proc.wait(STOP_WITHIN_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {STOP_WITHIN_S} s after the signal:\n{log.read_text()}")
            stop_s = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return Stopped(code, stop_s, out, env, log.read_text())


def _records(out: Path) -> list[dict[str, object]]:
    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import run_records

    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        return [r.as_dict() for r in run_records(reg, limit=10)]


def _assert_interrupted(stopped: Stopped, sig: int) -> str:
    """Exit status 128 + sig, run recorded as interrupted, nothing published, no staging;
    returns the run's id."""
    assert stopped.returncode == 128 + sig, stopped.output
    assert stopped.stop_s < STOP_WITHIN_S
    assert f"interrupted ({signal.Signals(sig).name})" in stopped.output
    assert "Traceback" not in stopped.output
    (record,) = _records(stopped.out)
    assert record["state"] == "failed" and record["reason"] == "interrupted", record
    assert f"stopped by {signal.Signals(sig).name}" in str(record["message"])
    assert record["products"] == [] and not record["lost"]
    assert not list(stopped.out.rglob("change-*.json")), "a product was published"
    assert not list((stopped.out / ".staging").iterdir()), "staging left behind"
    return str(record["id"])


def test_ctrl_c_to_the_group_stops_a_computing_run(
    prefect_api: str, sample_root: Path, tmp_path: Path
) -> None:
    """SIGINT to the whole process group (a terminal's Ctrl-C) while the product is being
    computed: exit 130 within 10 s, recorded as interrupted, nothing published."""
    stopped = _run_then_stop(tmp_path, sample_root, prefect_api, signal.SIGINT, group=True)
    _assert_interrupted(stopped, signal.SIGINT)


def test_sigterm_stops_a_run_that_runs_resume_then_completes(
    prefect_api: str, sample_root: Path, tmp_path: Path
) -> None:
    """SIGTERM to the process (``timeout``, systemd): exit 143 within 10 s, interrupted; the
    searches it finished are kept, and ``runs resume`` publishes the product from them."""
    stopped = _run_then_stop(tmp_path, sample_root, prefect_api, signal.SIGTERM, group=False)
    run_id = _assert_interrupted(stopped, signal.SIGTERM)
    kept = stopped.out / ".yamasat" / "checkpoints" / run_id
    assert sorted(p.name for p in kept.glob("search-*.json")) == [
        "search-after-s2.json",
        "search-before-s2.json",
    ]
    resumed = subprocess.run([CLI, "runs", "resume", run_id], check=False, env=stopped.env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    latest, first = _records(stopped.out)[:2]
    assert first["id"] == run_id and latest["resumed_from"] == run_id
    assert latest["state"] == "completed" and latest["outcome"] == "published"
    (item,) = stopped.out.rglob("change-*/change-*.json")
    assert [item.stem] == latest["products"]
    assert not kept.exists()


def _local_servers_of(pid: int) -> list[int]:
    """The processes of the Prefect server the CLI ``pid`` started (its launcher names the
    CLI's pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prefect.server.api.server:create_app" in argv and str(pid).encode() in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the server")
def test_ctrl_c_with_the_clis_own_prefect_server(sample_root: Path, tmp_path: Path) -> None:
    """No PREFECT_API_URL: the CLI starts a Prefect server of its own, out of the reach of
    the group's SIGINT; the run still ends within 10 s, recorded as interrupted, and the
    server is stopped with it."""
    out = tmp_path / "products"
    env = prefect_env(tmp_path / "prefect-home") | {"YAMASAT_STORAGE__OUTPUT_ROOT": str(out)}
    with (tmp_path / "run.log").open("wb") as sink:
        proc = subprocess.Popen([*FOREGROUND, *_change_args(sample_root, out)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + COMPUTING_WITHIN_S
        while not _computing(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        servers = _local_servers_of(proc.pid)
        assert servers, "the CLI started no Prefect server of its own"
        assert all(os.getsid(s) != os.getsid(proc.pid) for s in servers)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(STOP_WITHIN_S)
        stop_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = (tmp_path / "run.log").read_text()
    _assert_interrupted(Stopped(code, stop_s, out, env, output), signal.SIGINT)
    assert not _local_servers_of(proc.pid), "the CLI's Prefect server outlived it"


def test_a_stop_refuses_publishing() -> None:
    """Once a stop was asked, no product is moved into place; the signal's exit status."""
    from yamasat.flows.signals import RunInterrupted, publishing, stopping_on_signals

    moved: list[str] = []
    with stopping_on_signals():
        with pytest.raises(RunInterrupted) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in the main thread at once
        assert stop.value.exit_code == 143
        with pytest.raises(RunInterrupted), publishing("item-1"):
            moved.append("item-1")
    assert moved == []
    # the stop belonged to that command: later runs of the same process publish (a notebook
    # after a Ctrl-C, the test runner)
    with publishing("item-2"):
        moved.append("item-2")
    assert moved == ["item-2"]


def test_a_signal_while_publishing_is_held_until_the_product_is_in_place(
    sigint_handled: None,
) -> None:
    """A signal arriving while a product is moved into place is raised once it is there,
    naming it (the run record then lists it)."""
    from yamasat.flows.signals import RunInterrupted, publishing, stopping_on_signals

    moved: list[str] = []
    with stopping_on_signals(), pytest.raises(RunInterrupted) as stop, publishing("item-1"):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs here, and must not raise
        moved.append("item-1")
    assert moved == ["item-1"]
    assert stop.value.published == ("item-1",) and stop.value.exit_code == 130
