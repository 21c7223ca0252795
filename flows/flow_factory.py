"""How the flows get their parameters: the run options every flow takes, declared once, and
the product flow built from its recipe.

Prefect reads a flow's parameters (names, types, defaults, order) from its signature, so a flow
built here keeps a full, typed one: :func:`with_run_options` puts :data:`RUN_OPTIONS` in place of
the decorated function's ``**options``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from prefect import Flow, flow

from .product_run import Recipe, run_product

__all__ = ["RUN_OPTIONS", "product_flow", "with_run_options"]

F = TypeVar("F", bound=Callable[..., Any])

_ARG = inspect.Parameter.POSITIONAL_OR_KEYWORD

#: where the data come from, where the products go and how the run is configured
RUN_OPTIONS = (
    inspect.Parameter("source", _ARG, default="sample", annotation=str),
    inspect.Parameter("out", _ARG, default=None, annotation=str | None),
    inspect.Parameter("solution", _ARG, default=None, annotation=str | None),
    inspect.Parameter("force", _ARG, default=False, annotation=bool),
    inspect.Parameter("config", _ARG, default=None, annotation=str | None),
    inspect.Parameter("profile", _ARG, default=None, annotation=str | None),
    # a source per data family (s2, s1, dem, rainfall) over ``source``, e.g. {"dem": "earth-search"}
    inspect.Parameter("family_sources", _ARG, default=None, annotation=dict[str, str] | None),
)


def with_run_options(after: str) -> Callable[[F], F]:
    """Decorator: the function's signature gets :data:`RUN_OPTIONS` after its parameter
    ``after``; their values reach the function in its ``**options``, in that order."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        at = [p.name for p in own].index(after) + 1
        public = signature.replace(parameters=[*own[:at], *RUN_OPTIONS, *own[at:]])

        @functools.wraps(fn)
        def called(*args: Any, **kwargs: Any) -> Any:
            bound = public.bind(*args, **kwargs)
            bound.apply_defaults()
            return fn(**bound.arguments)

        called.__signature__ = public  # type: ignore[attr-defined]
        return cast(F, called)

    return decorate


def product_flow(
    name: str, recipe: Recipe[Any], doc: str, module: str
) -> Flow[..., dict[str, Any]]:
    """The Prefect flow ``name`` that makes the product of ``recipe`` over ``aoi`` between the
    periods ``before`` and ``after``; ``resume_of`` names a failed run to resume. ``module``
    is where it is defined: its entrypoint is ``module:name``."""

    @with_run_options(after="after")
    def run(
        aoi: str, before: str, after: str, resume_of: str | None = None, **options: Any
    ) -> dict[str, Any]:
        params = dict(aoi=aoi, before=before, after=after, **options, resume_of=resume_of)
        return run_product(recipe, params)

    run.__name__ = run.__qualname__ = name
    run.__module__ = module
    run.__doc__ = doc
    return flow(name=name, log_prints=False)(run)
