"""A run whose Prefect API goes away fails within the named timeout (issue 17, item 1).

The real ``yamasat run change`` on the sample archive, talking to a real ``prefect server``
that the test kills (SIGKILL to its session, as a crash would) once the run computes. Before
the watch (flows/api_watch.py), the client retried the refused connection for minutes and
the run ended, if at all, as ``internal_error: [Errno 111] Connection refused``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.prefect_server import prefect_env, prefect_server_process
from yamasat.flows.demo import CHANGE_PERIODS

CLI = str(Path(sys.executable).with_name("yamasat"))
#: the timeout the run is given, and what the watch may add: a poll, then the grace Prefect
#: gets to report before the process is ended
LOST_AFTER_S = 3.0
ENDS_WITHIN_S = LOST_AFTER_S + 1.0 + 10.0 + 5.0


def _records(out: Path) -> list[dict[str, object]]:
    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import run_records

    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        return [r.as_dict() for r in run_records(reg, limit=10)]


def _computing(out: Path) -> bool:
    staging = out / ".staging"
    return staging.is_dir() and any(staging.iterdir())


def test_a_lost_api_fails_the_run_within_the_timeout(sample_root: Path, tmp_path: Path) -> None:
    from yamasat.catalogs.sample import SampleManifest

    out = tmp_path / "products"
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    args = [CLI, "run", "change", "--aoi", bbox, "--before", CHANGE_PERIODS[0],
            "--after", CHANGE_PERIODS[1], "--source", str(sample_root / "catalog.json"),
            "--out", str(out)]  # fmt: skip
    log = tmp_path / "run.log"
    with prefect_server_process(tmp_path / "prefect-server") as server, log.open("wb") as sink:
        env = prefect_env(tmp_path / "prefect-home", server.api) | {
            "YAMASAT_ORCHESTRATION__API_LOST_TIMEOUT_S": str(LOST_AFTER_S),
        }
        proc = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not _computing(out):
                assert proc.poll() is None, f"ended before computing:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"not computing:\n{log.read_text()}"
                time.sleep(0.02)
            server.kill()
            killed = time.monotonic()
            try:
                code = proc.wait(ENDS_WITHIN_S)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"still running {ENDS_WITHIN_S} s after the API died:\n{log.read_text()}"
                )
            took = time.monotonic() - killed
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log.read_text()
    assert code == 7, output
    assert took >= LOST_AFTER_S, took  # not before the timeout it was given
    assert "has not answered for" in output and "api_lost_timeout_s" in output, output
    assert "Traceback" not in output, output
    (record,) = _records(out)
    assert record["state"] == "failed" and record["reason"] == "api_lost", record
    assert not list(out.rglob("change-*.json")), "published after the API was lost"


def test_a_lost_api_wrapped_by_a_read_is_recorded_as_lost() -> None:
    """The watch raises wherever the main thread is; a loader that wraps what stopped its
    read (``LoadError(...) from e``) must not turn the run's reason into ``load_failed``
    (a CI run under load once recorded that)."""
    from yamasat.errors import LoadError, PrefectApiLostError, reason_of
    from yamasat.flows.tracking import _recorded_cause

    lost = PrefectApiLostError("the Prefect API has not answered")
    try:
        try:
            raise lost
        except PrefectApiLostError as e:
            raise LoadError("could not read x.tif") from e
    except LoadError as wrapped:
        assert reason_of(_recorded_cause(wrapped)) == "api_lost"
    alone = LoadError("a read that failed on its own")
    assert _recorded_cause(alone) is alone
