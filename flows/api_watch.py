"""Failing a run whose Prefect API went away, within a named timeout.

Prefect's client retries a refused or dropped connection with growing waits, and its engine
reports every state change, so a run whose API server died (or whose network to it was cut)
went on retrying for minutes and then ended with ``internal_error: [Errno 111] Connection
refused``, if it ended. :func:`watching_api` bounds that:

- a daemon thread asks the API's ``/health`` every ``poll_s`` seconds;
- once it has had no answer for ``orchestration.api_lost_timeout_s`` (default 30 s), it raises
  :class:`~yamasat.errors.PrefectApiLostError` in the main thread (through SIGUSR1, the way a
  Ctrl-C reaches it; held while a product is being moved into place). The flow body's
  tracking records the run as failed with reason ``api_lost`` in yamasat's own registry,
  which does not need Prefect, and keeps its finished stages for ``yamasat runs resume``;
- Prefect's engine then tries to report the failure to the lost API and retries. If the
  process is still running ``grace_s`` seconds later, the watch prints the error and ends the
  process with the error's exit status (7): what Prefect could not report, it cannot report
  later either, and yamasat's record is already written.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from ..errors import PrefectApiLostError, redact_urls
from .local_prefect import api_is_answering
from .signals import publishing_in_progress
from .tracking import fail_unfinished_runs

__all__ = ["api_url_in_use", "watching_api"]


#: the signal the watch uses to reach the main thread
WAKE_SIGNAL = signal.SIGUSR1


def api_url_in_use(local_api: str | None) -> str | None:
    """The API the runs talk to: the local server's (``run_api`` yields it), else the
    configured ``PREFECT_API_URL``."""
    if local_api:
        return local_api
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    return str(configured) if configured else None


class _Watch:
    def __init__(self, api_url: str, timeout_s: float, poll_s: float, grace_s: float) -> None:
        self.api_url, self.timeout_s = api_url, timeout_s
        self.poll_s, self.grace_s = poll_s, grace_s
        self.done = threading.Event()
        self.error: PrefectApiLostError | None = None
        self.thread = threading.Thread(target=self.run, name="yamasat-api-watch", daemon=True)

    def run(self) -> None:
        last_answer = time.monotonic()
        while not self.done.wait(self.poll_s):
            if api_is_answering(self.api_url, min(self.poll_s * 2, 5.0)):
                last_answer = time.monotonic()
                continue
            silent = time.monotonic() - last_answer
            if silent >= self.timeout_s:
                self.lost(silent)
                return

    def lost(self, silent: float) -> None:
        self.error = PrefectApiLostError(
            f"the Prefect API at {redact_urls(self.api_url)} has not answered for "
            f"{silent:.0f} s (orchestration.api_lost_timeout_s = {self.timeout_s:g}): the "
            "run is stopped; its record in yamasat's registry says what it finished "
            "('yamasat runs list'), and 'yamasat runs resume' continues it. Check that the "
            "Prefect server is running, or unset PREFECT_API_URL to let yamasat start its own"
        )
        # from here on Prefect can only log its failed attempts to reach the API (with
        # tracebacks): the one line that matters is this error
        logging.getLogger("prefect").setLevel(logging.CRITICAL)
        self.wake_main()
        if self.done.wait(self.grace_s):
            return
        # Prefect is still retrying the lost API to report the failure: end here, with the
        # runs it was carrying recorded as failed in yamasat's own registry
        fail_unfinished_runs(self.error.reason, str(self.error))
        sys.stderr.write(f"error: {self.error}\n")
        sys.stderr.flush()
        os._exit(self.error.exit_code)

    def wake_main(self) -> None:
        main = threading.main_thread().ident
        if main is not None:
            signal.pthread_kill(main, WAKE_SIGNAL)

    def raise_in_main(self, signum: int, frame: FrameType | None) -> None:
        if self.error is None or self.done.is_set():
            return
        if publishing_in_progress():  # a product is being moved into place: after it
            threading.Timer(0.1, self.wake_main).start()
            return
        raise self.error


@contextmanager
def watching_api(
    api_url: str | None, timeout_s: float, *, poll_s: float = 1.0, grace_s: float = 10.0
) -> Iterator[None]:
    """While inside, a run whose Prefect API at ``api_url`` stops answering for ``timeout_s``
    fails with :class:`PrefectApiLostError` (see the module doc). Does nothing without an
    API URL or outside the main thread."""
    if not api_url or threading.current_thread() is not threading.main_thread():
        yield
        return
    watch = _Watch(api_url, timeout_s, poll_s, grace_s)
    saved = signal.signal(WAKE_SIGNAL, watch.raise_in_main)
    watch.thread.start()
    try:
        yield
    finally:
        watch.done.set()
        signal.signal(WAKE_SIGNAL, saved)
