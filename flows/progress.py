"""Rich progress for long stages, as a ``(stage, done, total)`` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

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


def report(stage: str, done: int, total: int) -> None:
    """Report progress of a stage to the CLI's display, when one is attached."""
    for fn in _reporters:
        fn(stage, done, total)
