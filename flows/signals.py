"""Stopping a run when told: SIGINT (Ctrl-C, to the process or its whole group) and SIGTERM
(``timeout``, systemd, a Prefect worker).

What a stop does, wherever it lands:

- The first signal is noted (:func:`stop_asked`) and, outside publishing, raises
  :class:`RunInterrupted` in the main thread at once. It is a ``BaseException``: no
  ``except Exception`` on the way (Prefect's task retries among them) takes it for a failure
  to retry. Inside a Prefect flow SIGTERM goes to Prefect's own handler first (its
  ``TerminationSignal``, which a worker's cancellation relies on); :func:`noting_stops`
  notes it before handing over.
- Nothing is published after the signal: :func:`publishing` refuses to start moving a
  product into place once a stop was asked. A signal that arrives while a product is being
  moved into place (milliseconds: a rename and the catalog links) is held until the move has
  finished, then raised, with the product named (:attr:`RunInterrupted.published`), so that
  the run record lists what is in the catalog.
- The run record says ``failed`` with reason ``interrupted`` (``yamasat.flows.tracking``);
  the staging folder is removed, and what the run finished stays as its checkpoints (the
  search results; the rasters, when all were written), which ``yamasat runs resume``
  continues from.
- The CLI exits with 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.

A second signal while the run unwinds raises again (as Python's own Ctrl-C does), so an
operator can cut a slow clean-up short; SIGKILL remains for a process that hangs.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = [
    "STOP_SIGNALS",
    "RunInterrupted",
    "interrupted_by",
    "noting_stops",
    "publishing",
    "publishing_in_progress",
    "signal_name",
    "stop_asked",
    "stopping_on_signals",
]

log = logging.getLogger(__name__)

#: the signals that stop a run
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class RunInterrupted(BaseException):
    """The run was told to stop by a signal (see the module doc)."""

    def __init__(self, signum: int, published: tuple[str, ...] = ()) -> None:
        self.signum = signum
        #: products moved into place before the stop was raised (a signal held while
        #: publishing)
        self.published = published
        super().__init__(f"stopped by {signal_name(signum)}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2; the number for a signal Python does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _State:
    """The stop asked in this process, and whether a publication holds signals back."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.asked: int | None = None
        self.holding = 0
        self.held = False


_state = _State()


def publishing_in_progress() -> bool:
    """True while a product is being moved into place (:func:`publishing`): a stop raised
    from elsewhere (the lost-API watch) waits until it is done."""
    return _state.holding > 0


def stop_asked() -> int | None:
    """The first stop signal this process received, or None."""
    return _state.asked


def interrupted_by(exc: BaseException) -> int | None:
    """The signal ``exc`` stands for: a :class:`RunInterrupted`, Prefect's
    ``TerminationSignal``, or a ``KeyboardInterrupt`` (SIGINT); None for anything else."""
    if isinstance(exc, RunInterrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return int(signal.SIGINT)
    number = getattr(exc, "signal", None)  # prefect.exceptions.TerminationSignal
    if type(exc).__name__ == "TerminationSignal" and isinstance(number, int):
        return number
    return None


def _note(signum: int) -> bool:
    """Note a stop; True when it must be raised now (no publication holds it back)."""
    with _state.lock:
        if _state.asked is None:
            _state.asked = signum
            log.warning("%s received: stopping the run", signal_name(signum))
        if _state.holding:
            _state.held = True
            return False
        return True


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    if _note(signum):
        raise RunInterrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _forget_stop() -> None:
    """Clear the noted stop: it belongs to the command or flow body that received it, not
    to later runs of a process that goes on (a notebook, the test runner, ``serve``)."""
    with _state.lock:
        _state.asked, _state.holding, _state.held = None, 0, False


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`RunInterrupted` (the CLI's handlers).

    A signal the process was started ignoring (``nohup``, ``&`` in a script: SIGINT) stays
    ignored. Outside the main thread, where Python cannot set handlers, this does nothing.
    The noted stop is cleared on entry and on exit: one stop per command.
    """
    if not _in_main_thread():
        yield
        return
    _forget_stop()
    saved: dict[signal.Signals, _Handler] = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        saved[sig] = signal.signal(sig, _raise_stop)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        _forget_stop()


@contextmanager
def noting_stops() -> Iterator[None]:
    """While inside (a flow's body), SIGINT and SIGTERM are noted before the handler in place
    acts (Prefect's SIGTERM bridge, the CLI's, Python's Ctrl-C), so that :func:`publishing`
    knows of a stop whoever raises it; held, like any, while a product is moved into place.
    A default or ignored disposition is left as it is."""
    if not _in_main_thread():
        yield
        return
    saved: dict[signal.Signals, _Handler] = {}
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if callable(current):
            saved[sig] = signal.signal(sig, _noting(current))
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        _forget_stop()


def _noting(handler: Callable[[int, FrameType | None], Any]) -> Callable[..., Any]:
    def note_then_handle(signum: int, frame: FrameType | None) -> Any:
        if _note(signum):
            return handler(signum, frame)
        return None

    return note_then_handle


@contextmanager
def publishing(item_id: str) -> Iterator[None]:
    """Around moving the product ``item_id`` into place: refused (:class:`RunInterrupted`)
    once a stop was asked; a signal arriving inside is held until the move is done, then
    raised naming the product."""
    with _state.lock:
        if _state.asked is not None:
            raise RunInterrupted(_state.asked)
        _state.holding += 1
    try:
        yield
    finally:
        with _state.lock:
            _state.holding -= 1
            held = _state.held and not _state.holding
            if held:
                _state.held = False
            asked = _state.asked
    if held and asked is not None:
        raise RunInterrupted(asked, published=(item_id,))
