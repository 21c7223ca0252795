"""Named fault points: where a test kills the process to prove that nothing is lost.

A fault point is inert unless the test-only environment variable ``YAMASAT_FAULT_POINT``
names it; the process then kills itself with SIGKILL there (no clean-up, no ``finally``, no
atexit: what a power cut or the kernel's OOM killer does). The points:

* ``cog_write``: a product COG is written to its temporary file, not yet renamed into place;
* ``after_move``: the product folder was moved to its final path, the catalog not yet updated
  and the product not registered;
* ``before_register``: the product is in the catalog, not yet registered;
* ``registry_commit``: inside the registry transaction that registers the product, before
  it commits.

``tests/test_fault_points.py`` drives the real CLI through each and checks that a re-run or
``yamasat runs resume`` ends with one published, registered product.
"""

from __future__ import annotations

import os
import signal

__all__ = ["FAULT_POINTS", "FAULT_VARIABLE", "fault_point"]

#: the environment variable that arms one fault point (tests only)
FAULT_VARIABLE = "YAMASAT_FAULT_POINT"

FAULT_POINTS = frozenset({"cog_write", "after_move", "before_register", "registry_commit"})


def fault_point(name: str) -> None:
    """SIGKILL this process when ``YAMASAT_FAULT_POINT`` is ``name``; otherwise nothing."""
    if name not in FAULT_POINTS:  # a typo would make a test pass for the wrong reason
        raise ValueError(f"unknown fault point {name!r}; known: {sorted(FAULT_POINTS)}")
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
