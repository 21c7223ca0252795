"""Progress of long stages, as a ``(stage, done, total)`` callback: a rich display in the CLI,
and inside a Prefect flow run a progress artifact (searches, then the analysis) that the
Prefect UI shows for that run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ..errors import InvariantError

__all__ = ["ProgressFn", "report", "set_reporter", "stage_progress"]

ProgressFn = Callable[[str, int, int], None]


@contextmanager
def stage_progress(console: Console) -> Iterator[ProgressFn]:
    """A progress display with one bar per stage; yields the callback to report into."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield report


_reporters: list[ProgressFn] = []


def set_reporter(fn: ProgressFn | None) -> None:
    """Route :func:`report` calls (from flow steps in this process) to ``fn`` (or nowhere)."""
    _reporters.clear()
    if fn is not None:
        _reporters.append(fn)


#: share of a product run's time each stage stands for (the searches are quick)
STAGE_WEIGHTS = {"search before": 0.05, "search after": 0.05, "analyse": 0.9}


class _PrefectProgress:
    """One progress artifact per flow run (the weighted stages of :data:`STAGE_WEIGHTS`),
    updated when it moves by 5 points or a stage ends."""

    def __init__(self) -> None:
        self.artifacts: dict[str, UUID] = {}
        self.stages: dict[str, dict[str, float]] = {}
        self.shown: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from prefect.runtime import flow_run

        rid = flow_run.get_id()
        if not rid:
            return
        rid = str(rid)
        if stage not in STAGE_WEIGHTS:
            return
        seen = self.stages.setdefault(rid, {})
        seen[stage] = min(done / max(total, 1), 1.0)
        percent = round(100 * sum(STAGE_WEIGHTS[k] * v for k, v in seen.items()), 1)
        if rid in self.shown and percent - self.shown[rid] < 5 and done < total:
            return
        try:
            from prefect.artifacts import create_progress_artifact, update_progress_artifact

            if rid not in self.artifacts:
                made = create_progress_artifact(
                    progress=percent, description="searches, then the analysis"
                )
                if not isinstance(made, UUID):  # sync context: the id, not a coroutine
                    raise InvariantError(f"create_progress_artifact gave {made!r}, not an id")
                self.artifacts[rid] = made
            else:
                update_progress_artifact(self.artifacts[rid], progress=percent)
            self.shown[rid] = percent
        except Exception as e:  # progress must never fail a run
            import logging

            logging.getLogger(__name__).debug("progress artifact not updated: %s", e)


_prefect_progress = _PrefectProgress()


def report(stage: str, done: int, total: int) -> None:
    """Report progress of a stage to the CLI's display, when one is attached, and to the
    Prefect run's progress artifact when called inside a flow run."""
    for fn in _reporters:
        fn(stage, done, total)
    _prefect_progress(stage, done, total)
