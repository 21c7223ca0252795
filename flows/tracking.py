"""Every flow run recorded, with one machine-readable reason when it fails.

:func:`tracked` wraps the body of each flow: it records the run's start in the registry
(parameters, AOI, deployment), runs the body, and records how it ended. A failure ends the
flow run in a ``Failed`` state whose message begins with the reason (``no_data: ...``,
``source_failed: ...``; see ``yamasat.errors``), the same reason and message are stored in the
run record, and the original exception still reaches a direct caller (the CLI maps it to an
exit status). A resumed run (``resume_of``) shares its checkpoints with the run it resumes.

:func:`product_lock` serialises runs that would make the same product: the second waits for
the first (then finds the product published and does no work) or, after
``orchestration.same_product_wait_s``, is refused with reason ``busy``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from filelock import FileLock, Timeout
from prefect.runtime import deployment, flow_run
from prefect.states import Failed, State

from ..catalogs.extent.periods import is_relative, parse_period
from ..errors import (
    ParameterError,
    PrefectApiLostError,
    RunBusyError,
    YamasatError,
    error_chain,
    reason_of,
)
from ..settings import Settings, load_settings
from .checkpoints import Checkpoints
from .prepare import software_version
from .signals import interrupted_by, noting_stops, signal_name

__all__ = [
    "INTERRUPTED",
    "RunContext",
    "current_run_id",
    "fail_unfinished_runs",
    "product_lock",
    "products_of",
    "tracked",
]

log = logging.getLogger(__name__)
_MAX_CHAIN = 50


@dataclass(frozen=True)
class RunContext:
    """What a tracked flow body gets: its run id, settings and stage checkpoints."""

    run_id: str
    settings: Settings
    #: where the run's products (and its checkpoints and locks) go
    out_root: Path
    checkpoints: Checkpoints
    #: the run's parameters with relative periods resolved to dates (as recorded)
    params: Mapping[str, Any] = field(default_factory=dict)
    #: records products in the run's record as soon as they are published
    note_products: Callable[[list[str]], None] = lambda products: None


def current_run_id() -> str | None:
    """The Prefect flow-run id, when running inside a flow."""
    rid = flow_run.get_id()
    return str(rid) if rid else None


def _current_id() -> str:
    return current_run_id() or uuid.uuid4().hex


class _Recorder:
    """Writes the run record; a registry that cannot be written is logged, never fatal."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings, self.run_id = settings, run_id
        self.ok = True
        self.lock = threading.Lock()
        self.finished = False

    def _do(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from ..catalogs.registry import open_registry

        try:
            with open_registry(self.settings) as reg:
                return fn(reg, self.run_id, **kwargs)
        except Exception as e:  # the record is secondary: never let it mask the run's fate
            self.ok = False
            log.warning("run %s: could not record %s in the registry: %s", self.run_id, what, e)
            return None

    def start(self, flow: str, params: Mapping[str, Any], resumed_from: str | None) -> None:
        from ..catalogs.registry.run_records import start_run_record

        self._do(
            "its start",
            start_run_record,
            flow=flow,
            software_version=software_version(),
            parameters=_json_safe(params),
            aoi=str(params["aoi"]) if params.get("aoi") else None,
            deployment=deployment.get_name(),
            resumed_from=resumed_from,
        )
        _unfinished.add(self)

    def products(self, products: list[str]) -> None:
        from ..catalogs.registry.run_records import note_run_products

        self._do("its products", note_run_products, products=products)

    def finish(self, **kwargs: Any) -> None:
        """Record the run's end, once (the main thread and :func:`fail_unfinished_runs`
        may both try)."""
        from ..catalogs.registry.run_records import finish_run_record

        with self.lock:
            if self.finished:
                return
            self.finished = True
            _unfinished.discard(self)
            self._do("its end", finish_run_record, **kwargs)


#: runs this process has started recording and not yet finished
_unfinished: set[_Recorder] = set()


def fail_unfinished_runs(reason: str, message: str) -> None:
    """Record every run of this process that has not ended as failed with ``reason``: for a
    watch that must end the process itself (``flows/api_watch.py``), so that no run it ends
    stays ``running`` in the registry."""
    for recorder in list(_unfinished):
        recorder.finish(state="failed", reason=reason, message=message[:4000])


def _json_safe(params: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(params), default=str))


def _lineage(settings: Settings, resume_of: str) -> str:
    """The first run of the resume chain that ``resume_of`` belongs to."""
    from ..catalogs.registry import open_registry
    from ..catalogs.registry.run_records import run_record

    with open_registry(settings) as reg:
        current = run_record(reg, resume_of)
        for _ in range(_MAX_CHAIN):
            if not current.resumed_from:
                return current.id
            current = run_record(reg, current.resumed_from)
    raise ParameterError(
        f"run {resume_of} is more than {_MAX_CHAIN} resumes away from its first run; "
        "start it afresh instead of resuming"
    )


def run_day(settings: Settings) -> dt.date:
    """The day relative periods are resolved against: the day the run was scheduled for (a
    queued or late run keeps it), else now, in ``orchestration.timezone``."""
    tz = ZoneInfo(settings.orchestration.timezone)
    when = flow_run.get_scheduled_start_time() if flow_run.get_id() else None
    if isinstance(when, dt.datetime):
        return when.astimezone(tz).date()
    return dt.datetime.now(tz).date()


def resolve_params(params: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """``params`` with relative periods (``P30D/today``) and ``today`` made absolute, so that
    the record, and a resume of it, name the same days; a malformed value is left for the
    flow to refuse with its own message."""
    out = dict(params)
    for key in ("before", "after"):
        value = out.get(key)
        if isinstance(value, str) and is_relative(value):
            with suppress(YamasatError):
                out[key] = str(parse_period(value, what=key, today=today))
    if "today" in out:
        value = out["today"]
        with suppress(YamasatError):
            out["today"] = parse_period(value or "today", what="today", today=today).end.isoformat()
    return out


def products_of(result: Mapping[str, Any]) -> list[str]:
    """The product ids a flow result names (one product, or a list from a watch flow)."""
    if isinstance(result.get("products"), list):
        return [str(p) for p in result["products"]]
    if result.get("outcome") in ("published", "exists") and result.get("item_id"):
        return [str(result["item_id"])]
    return []


def tracked(
    flow: str,
    params: Mapping[str, Any],
    body: Callable[[RunContext], dict[str, Any]],
    *,
    output_root: str | None = None,
) -> dict[str, Any] | State:
    """Run ``body`` as the recorded run of ``flow`` with ``params`` (see the module doc);
    ``params["config"]`` is the config file, ``output_root`` the run's ``--out`` if any. The
    run is recorded in the registry of its output root (``storage.registry_url``, else the
    SQLite file in ``output_root`` or ``storage.output_root``: :meth:`Settings.for_output`),
    the one solutions and products are registered in.

    Returns the body's result, or a ``Failed`` state carrying the reason and the exception.
    """
    run_id = _current_id()
    try:
        config = params.get("config")
        # the registry follows the run's --out (Settings.for_output: the one rule)
        settings = load_settings(Path(config) if config else None).for_output(output_root)
    except YamasatError as e:  # no registry to record in: the state message carries it
        return _failed(e)
    recorder = _Recorder(settings, run_id)
    resume_of = params.get("resume_of")
    resolved = resolve_params(params, run_day(settings))
    recorder.start(flow, resolved, resume_of)
    try:
        lineage = _lineage(settings, resume_of) if resume_of else run_id
        out_root = settings.storage.output_root.resolve()
        checkpoints = Checkpoints(out_root, lineage)
        ctx = RunContext(run_id, settings, out_root, checkpoints, resolved, recorder.products)
        if resume_of:
            done = ctx.checkpoints.stages()
            log.info("run %s resumes %s; finished stages: %s", run_id, resume_of, done or "none")
        with noting_stops():
            result = body(ctx)
    except Exception as e:
        cause = _recorded_cause(e)
        recorder.finish(state="failed", reason=reason_of(cause), message=str(cause)[:4000])
        return _failed(e)
    except BaseException as e:  # Ctrl-C, or the process told to stop: recorded, then re-raised
        recorder.finish(state="failed", reason=INTERRUPTED, message=_stopped(e, run_id),
                        products=list(getattr(e, "published", ())))  # fmt: skip
        raise
    recorder.finish(
        state="completed",
        outcome=str(result.get("outcome")) if result.get("outcome") else None,
        message=str(result.get("message", ""))[:4000] or None,
        products=products_of(result),
    )
    ctx.checkpoints.clear()
    result["run_id"] = run_id
    return result


#: the reason recorded for a run stopped by a signal (``yamasat.flows.signals``)
INTERRUPTED = "interrupted"


def _stopped(e: BaseException, run_id: str) -> str:
    """The recorded message of a run that ``e`` stopped."""
    signum = interrupted_by(e)
    if signum is None:  # SystemExit, GeneratorExit...
        return f"stopped ({type(e).__name__}); resume it with 'yamasat runs resume {run_id}'"
    published = list(getattr(e, "published", ()))
    done = f" after publishing {', '.join(published)}" if published else "; nothing published"
    return (
        f"stopped by {signal_name(signum)}{done}; its staging was removed and the stages it "
        f"finished are kept: 'yamasat runs resume {run_id}' continues it"
    )


def _failed(e: Exception) -> State:
    return Failed(message=f"{reason_of(e)}: {e}", data=e)


@contextmanager
def product_lock(settings: Settings, out_root: Path, key: Mapping[str, Any]) -> Iterator[None]:
    """Hold the lock of the product ``key`` names (kind, AOI, periods...) while making it."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True, default=str).encode()).hexdigest()
    folder = out_root / ".yamasat" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    wait = settings.orchestration.same_product_wait_s
    lock = FileLock(str(folder / f"{digest[:24]}.lock"), timeout=wait)
    try:
        lock.acquire(poll_interval=0.2)
    except Timeout:
        raise RunBusyError(
            f"another run has been making the same product ({_describe(key)}) for more than "
            f"{wait:g} s (orchestration.same_product_wait_s); nothing was done. Wait for it "
            "to finish ('yamasat runs list'), then run again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _describe(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in key.items())


def _recorded_cause(exc: Exception) -> BaseException:
    """The error whose reason a failed run records: ``exc``, unless a lost Prefect API is in
    its chain (the watch raises it wherever the main thread is, and the stage it stopped,
    such as a read, wraps it)."""
    return next((c for c in error_chain(exc) if isinstance(c, PrefectApiLostError)), exc)
