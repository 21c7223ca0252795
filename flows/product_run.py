"""The one skeleton every product goes through, and the run around it.

A product is a :class:`Recipe` (``flows/recipes/``): what it searches, its parameters, its
analysis (which writes its COGs) and the extra columns of its polygons. :func:`analyse_product`
does the rest the same way for all: draft (or the ``exists`` outcome) → resumed rasters, or
the AOI mask and the recipe's analysis (given one :class:`Analysis`) → polygons, table,
quicklook, STAC, publishing.

:func:`run_product` is the body of a product flow: prepare → search both periods
(checkpointed, so a resumed run does not search again) → analyse under the product's lock →
finish (artifact, registry).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

import pystac
import xarray as xr
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ..catalogs.sources.signing import read_policy, signed_for_reading
from ..errors import (
    EvidenceError,
    LoadError,
    SourceError,
    UnknownSolutionError,
    YamasatError,
    redact_urls,
)
from ..processing.grid import aoi_mask
from ..processing.read_guard import is_read_error, reading
from ..settings import Settings
from .checkpoints import Checkpoints
from .compute import compute_on
from .prepare import (
    Prepared,
    href_policy,
    needs_signing,
    network_policy,
    prepare,
    product_id,
    search_family,
    season_warnings,
    vetted,
)
from .product_qa import add_product_qa
from .progress import report
from .publish import Draft, ProductOutcome, finish_draft, staged, start_draft, summary_markdown
from .registration import check_solution_task, complete_pending, register_task
from .staging import release_own_staging
from .tracking import RunContext, current_run_id, product_lock, tracked

__all__ = [
    "SEARCH_TASK",
    "Analysis",
    "Enricher",
    "Recipe",
    "analyse_product",
    "analyse_task",
    "complete_pending_quietly",
    "finish_run",
    "params_dict",
    "prepare_run",
    "registered",
    "retry_worthwhile",
    "revetted",
    "run_product",
    "search_task",
]

P = TypeVar("P")

Enricher = Callable[[Any], Any]
"""adds per-object columns to the product's polygons (a GeoDataFrame) before they are written"""


def params_dict(params: Any) -> dict[str, Any]:
    """A frozen parameter dataclass as a JSON-safe dict."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}


@dataclass(frozen=True)
class Analysis(Generic[P]):
    """What a recipe's analysis works from, handed over by :func:`analyse_product`."""

    prep: Prepared
    draft: Draft
    """the product being made: its grid (``geobox``), ``staging`` folder, COGs and QA"""
    before: list[pystac.Item]
    after: list[pystac.Item]
    """the items of each period the product is made from (:meth:`Recipe.select`)"""
    params: P
    inside: xr.DataArray
    """the lazy AOI mask on ``draft.geobox``: True inside the AOI (pixel centres)"""


class Recipe(ABC, Generic[P]):
    """One product: what it reads, its parameters, how it is computed, what it publishes.

    A recipe sets the class attributes and writes :meth:`analyse`; the other methods have
    defaults. Recipes are listed once, in :data:`yamasat.flows.recipes.RECIPES`.
    """

    name: ClassVar[str]
    """the recipe's name in :data:`yamasat.flows.recipes.RECIPES` (``flood-s1``)"""
    kind: ClassVar[str]
    """the product kind: its catalog folder and item-id prefix (``flood``)"""
    flow: ClassVar[str]
    """the Prefect flow that makes it (recorded in the product)"""
    family: ClassVar[str] = "s2"
    """the source family searched"""
    bands: ClassVar[tuple[str, ...]] = ()
    """the bands searched and vetted"""
    variant: ClassVar[str] = "s2"
    """what tells this product from another of the same flow, AOI and periods (its lock)"""
    season_warnings: ClassVar[bool] = True
    """warn when the two periods are in different seasons (optical indices drift with them)"""
    method_revision: ClassVar[int] = 1
    """the revision of the method's code, recorded in every product (:meth:`record`): raised
    whenever a change of the code (not of a parameter) changes the products, so that a
    product is matched to the expected-accuracy row measured with its own method and one
    made by older code is "not measured" (the demo pins each revision to its product:
    ``tests/test_demo.py``)"""

    @abstractmethod
    def params(self, settings: Settings) -> P:
        """The parameters from the settings (``analytics.<product>``)."""

    @abstractmethod
    def analyse(self, run: Analysis[P]) -> None:
        """Compute the product and write its COGs into ``run.draft.staging``, recording them
        with ``run.draft.add_cog`` (and its threshold, QA and warnings)."""

    def record(self, params: P) -> dict[str, Any]:
        """The parameters as recorded in the product (and its identity), with the
        :attr:`method_revision`."""
        return {**params_dict(params), "method_revision": self.method_revision}

    def choose(self, params: P, flow_params: Mapping[str, Any]) -> P:
        """``params`` with the choices the flow was called with (its own parameters beyond
        the AOI, periods and run options); unchanged unless overridden."""
        return params

    def search_bands(self, params: P) -> tuple[str, ...]:
        """The bands searched for with ``params``."""
        return self.bands

    def searches(self, params: P) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(family, bands) of every search of each period: the recipe's ``family`` with its
        :meth:`search_bands`, unless a product reads several families (the fused flood)."""
        return ((self.family, self.search_bands(params)),)

    def lock_variant(self, params: P) -> str:
        """The variant part of the product's lock."""
        return self.variant

    def select(
        self, before: list[pystac.Item], after: list[pystac.Item]
    ) -> tuple[list[pystac.Item], list[pystac.Item]]:
        """The items of each period the product is made from (all, unless overridden)."""
        return before, after

    def enrich(self, staging: Path) -> Enricher | None:
        """Extra per-polygon columns, from the rasters in ``staging``; None for none."""
        return None


def analyse_product(
    recipe: Recipe[Any],
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: Any = None,
    force: bool = False,
    run_id: str | None = None,
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Make ``recipe``'s product from the item dicts of both periods, and publish it.

    ``params`` default to the recipe's from ``prep.settings``. A product already published
    and verified is not made again (``exists``) unless ``force``. Never publishes when the
    valid coverage of the AOI is below ``analytics.min_valid_fraction`` (the outcome is then
    ``insufficient_data``). With the ``checkpoints`` of a resumed run whose failed run wrote
    every raster, those are verified and published without computing them again.
    """
    params = recipe.params(prep.settings) if params is None else params
    before, after = recipe.select(
        [pystac.Item.from_dict(d) for d in before_items],
        [pystac.Item.from_dict(d) for d in after_items],
    )
    inputs, recorded = [it.id for it in before + after], recipe.record(params)
    try:  # staging removed wherever a stop lands, even between the claim and `staged`
        draft = start_draft(
            prep,
            recipe.kind,
            inputs,
            recorded,
            force,
            synthetic=any(it.properties.get("yamasat:synthetic") for it in before + after),
            warnings=season_warnings(prep.before, prep.after) if recipe.season_warnings else None,
            checkpoints=checkpoints,
        )
        if isinstance(draft, ProductOutcome):
            return draft
        with staged(draft, checkpoints):  # removes the staging, whatever ends the block
            enrich = recipe.enrich(draft.staging)
            if draft.rasters_done:  # resumed: the failed run wrote every raster
                return finish_draft(prep, draft, None, run_id, recipe.flow, enrich)
            report("analyse", 0, 4)
            grid = prep.settings.grid
            inside = aoi_mask(draft.geobox, prep.aoi.geometry, chunk=grid.chunk_size)
            recipe.analyse(Analysis(prep, draft, before, after, params, inside))
            add_product_qa(recipe.name, draft, inside)  # observed shares, expected accuracy
            report("analyse", 2, 4)
            return finish_draft(prep, draft, inside, run_id, recipe.flow, enrich)
    except BaseException:
        release_own_staging(prep.out_root, product_id(recipe.kind, prep, inputs, recorded))
        raise


def prepare_run(
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    settings: Settings,
    out_root: Path,
    profile: str | None,
    solution: str | None,
    family_sources: dict[str, str | None] | None = None,
) -> Prepared:
    """Every input checked (periods, AOI, sources, solution) before any search."""
    prep = prepare(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out_root,
        settings=settings,
        profile=profile,
        family_sources=family_sources,
    )
    if solution:
        check_solution_task(settings, solution)
    return prep


def retry_worthwhile(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a search only when it failed in a way that may pass: a source error that says
    so (5xx or a timeout after the request-level retries, an incomplete result), or a network
    error; not no data, a refused href, a source that cannot be connected to at all, a 4xx,
    a document that does not parse, a missing file, a permission error or a bug."""
    import requests

    try:
        state.result()
    except SourceError as e:
        return bool(e.retryable)
    except YamasatError:
        return False
    except (requests.RequestException, ConnectionError, TimeoutError):
        return True
    except Exception:
        return False
    return False


#: options of every task that searches a source: network failures are retried with backoff
SEARCH_TASK: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [2, 8],
    "retry_condition_fn": retry_worthwhile,
    "cache_policy": NO_CACHE,
}


@task(name="search", **SEARCH_TASK)
def search_task(
    prep: Prepared,
    which: str,
    family: str,
    bands: tuple[str, ...],
    checkpoints: Checkpoints | None = None,
) -> list[dict[str, Any]]:
    """Items of the before or after period (network: retried); a resumed run takes them from
    the checkpoint of the run it resumes."""
    period = prep.before if which == "before" else prep.after
    stage = f"search-{which}-{family}"
    saved = checkpoints.load(stage) if checkpoints else None
    if saved is not None:
        get_run_logger().info(
            "%s: %d items from the checkpoint of run %s",
            stage,
            len(saved),
            checkpoints.lineage if checkpoints else "?",
        )
        report(f"search {which}", 1, 1)
        return revetted(prep, family, bands, list(saved))
    report(f"search {which}", 0, 1)
    items = search_family(prep, family, period, bands)
    report(f"search {which}", 1, 1)
    get_run_logger().info("%s: %d %s items in %s", which, len(items), family, period)
    if checkpoints:
        checkpoints.save(stage, items)
    return items


def revetted(
    prep: Prepared, family: str, bands: tuple[str, ...], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Items read back from a checkpoint, their hrefs checked by the security policy again:
    the file lives in the output folder, which is not trusted more than a source."""
    return vetted(prep, family, bands, [pystac.Item.from_dict(d) for d in items])


@task(name="analyse-and-write", cache_policy=NO_CACHE)
def analyse_task(
    prep: Prepared,
    recipe: Recipe[Any],
    params: Any,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    force: bool,
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """:func:`analyse_product` on the configured dask scheduler, holding the lock of the
    product (flow, AOI, periods, variant): a second run of the same product waits, then finds
    it published and does nothing. The items are signed just before reading, and read with
    the href policy deciding where a redirect may lead (:func:`read_policy`); what fails
    while computing reaches the run as one :class:`YamasatError` with URLs redacted."""
    key = {
        "flow": recipe.flow,
        "variant": recipe.lock_variant(params),
        "aoi": prep.aoi.key,
        "before": str(prep.before),
        "after": str(prep.after),
    }
    with (
        product_lock(prep.settings, prep.out_root, key),
        compute_on(prep.settings),
        reading(read_policy(href_policy(prep.settings, prep.sources))),
        _redacted_failures(),
    ):
        families = [f for f, _ in recipe.searches(params)]
        signed = [
            signed_for_reading(
                items,  # signing leaves hrefs outside Azure Blob Storage as they are
                needs_signing=any(needs_signing(prep, f, items) for f in families),
                policy=network_policy(prep.settings),
            )
            for items in (before_items, after_items)
        ]
        return analyse_product(
            recipe, prep, *signed, params=params, force=force, run_id=current_run_id(),
            checkpoints=checkpoints,
        )  # fmt: skip


@contextmanager
def _redacted_failures() -> Iterator[None]:
    """Errors raised while reading and computing, with URLs' query strings (SAS tokens)
    removed before they reach logs, the run record and the Prefect state; a read error of
    GDAL's that is not yet ours becomes a :class:`LoadError` (a file-system error while
    writing stays an OSError)."""
    try:
        yield
    except YamasatError as e:
        e.args = (redact_urls(str(e)),)
        raise
    except OSError as e:
        if is_read_error(e):  # GDAL could not read: ours, named and redacted
            raise LoadError(f"reading failed: {redact_urls(str(e))}") from None
        raise  # a file-system error (no space, no permission) stays what it is
    except Exception as e:
        e.args = (redact_urls(str(e)),)
        raise


def finish_run(prep: Prepared, outcome: ProductOutcome, solution: str | None) -> dict[str, Any]:
    """Markdown artifact, JSON-safe result, and registration with the solution if given."""
    create_markdown_artifact(
        key=f"{outcome.kind}-summary",
        markdown=summary_markdown(prep, outcome),
        description=f"{outcome.kind} run",
    )
    if outcome.municipalities:
        create_table_artifact(
            key=f"{outcome.kind}-municipalities",
            table=[
                {k: v for k, v in row.items() if isinstance(v, str | int | float)}
                for row in outcome.municipalities
            ],
            description=f"{outcome.kind}: detected area per municipality",
        )
    result = outcome.as_dict()
    result["solution"] = solution
    if outcome.outcome in ("published", "exists"):  # every product, attached if asked
        result["registration"] = registered(prep, result, solution)
    return result


def registered(prep: Prepared, result: dict[str, Any], solution: str | None) -> dict[str, Any]:
    """Register the run's published product (and attach it to ``solution``). When that
    fails the product stays published and its registration pending (noted under the output
    root): the error says so, and the next run there or ``catalog repair`` completes it."""
    try:
        return register_task(prep.settings, result, solution, current_run_id())
    except (EvidenceError, UnknownSolutionError):
        raise
    except YamasatError as e:
        e.args = (
            f"{e}; product {result['item_id']} is published ({result['item_href']}) and its "
            f"registration is pending: the next run in {prep.out_root} or 'yamasat catalog "
            "repair' completes it",
        )
        raise


def complete_pending_quietly(settings: Settings, out_root: Path) -> None:
    """Complete registrations a run in ``out_root`` left pending; never fails the run."""
    log = get_run_logger()
    try:
        done, failed = complete_pending(settings, out_root)
    except Exception as e:  # the run's own work comes first
        log.warning("pending registrations not completed: %s", e)
        return
    for reg in done:
        log.info("pending registration completed: %s", reg.message)
    for pending, why in failed:
        log.warning("pending registration of %s: %s", pending.product_id, why)


def run_product(recipe: Recipe[Any], params: dict[str, Any]) -> dict[str, Any]:
    """The body of a product flow, recorded as a run: prepare, search both periods
    (checkpointed), analyse and write (task ``analyse-<kind>``), finish. ``params`` are the
    flow's parameters as called."""

    def body(ctx: RunContext) -> dict[str, Any]:
        prep = prepare_run(
            aoi=params["aoi"],
            before=ctx.params["before"],  # relative periods resolved once, as recorded
            after=ctx.params["after"],
            source=params["source"],
            settings=ctx.settings,
            out_root=ctx.out_root,
            profile=params["profile"],
            solution=params["solution"],
            family_sources=params.get("family_sources"),
        )
        product = recipe.choose(recipe.params(ctx.settings), params)
        b: list[dict[str, Any]] = []
        a: list[dict[str, Any]] = []
        for family, bands in recipe.searches(product):
            b += search_task(prep, "before", family, bands, ctx.checkpoints)
            a += search_task(prep, "after", family, bands, ctx.checkpoints)
        outcome = analyse_task.with_options(name=f"analyse-{recipe.kind}")(
            prep, recipe, product, b, a, params["force"], ctx.checkpoints
        )
        if outcome.outcome in ("published", "exists"):  # recorded, whatever happens next
            ctx.note_products([outcome.item_id])
        complete_pending_quietly(ctx.settings, ctx.out_root)
        return finish_run(prep, outcome, params["solution"])

    # a failure returns a Failed state (reason in its message); Prefect raises the original
    # exception to a direct caller, so callers only ever receive the dict
    return cast(dict[str, Any], tracked(recipe.flow, params, body, output_root=params["out"]))
