"""``python -m yamasat.flows.cli``: the same as the ``yamasat`` console script."""

from .app import main

main()
