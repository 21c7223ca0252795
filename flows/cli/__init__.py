"""The ``yamasat`` command line: ``main`` is the console script, ``run(argv)`` runs it in this
process and returns the exit status, ``app`` is the typer application.

One module per command group (``*_commands``), what they share in ``toolkit``, and ``app``
assembling them.
"""

from .app import app, main, run
from .toolkit import console

__all__ = ["app", "console", "main", "run"]
