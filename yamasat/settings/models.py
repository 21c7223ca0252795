"""The frozen pydantic models the configuration becomes: one per section, and :class:`Settings`.

Fields mirror the keys of ``config/yamasat.yaml``; each has a description. Models refuse
unknown keys and cannot be changed once built (mappings in them are read-only too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..errors import ConfigError
from .access import NetworkConfig, ObjectStoreConfig, SourceConfig
from .fields import (
    ConfigDate,
    ConfigPath,
    Float,
    Int,
    Text,
    check_bbox,
    check_database_url,
    check_prefecture_code,
    check_slug,
    check_threshold,
    read_only,
)
from .flood import FloodConfig
from .rainfall import RainfallConfig
from .redaction import mask_url, masked
from .section import Section

__all__ = [
    "FLOW_NAMES",
    "AnalyticsConfig",
    "BoundariesConfig",
    "BurnConfig",
    "ChangeConfig",
    "DaskConfig",
    "DateRange",
    "DeploymentConfig",
    "FloodConfig",
    "FlowName",
    "GridConfig",
    "IndicatorConfig",
    "IndicatorPoint",
    "LandslideConfig",
    "MaskingConfig",
    "NetworkConfig",
    "ObjectStoreConfig",
    "OrchestrationConfig",
    "SampleConfig",
    "Settings",
    "SourceConfig",
    "StorageConfig",
]


class DateRange(Section):
    """A closed range of days, ``start <= end``; the text ``"A/B"`` is accepted too."""

    start: ConfigDate = Field(description="first day included (YYYY-MM-DD)")
    end: ConfigDate = Field(description="last day included (YYYY-MM-DD), not before start")

    @model_validator(mode="before")
    @classmethod
    def _from_interval(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        parts = data.split("/")
        if len(parts) != 2:
            raise ValueError("expected 'YYYY-MM-DD/YYYY-MM-DD' or {start: ..., end: ...}")
        return {"start": parts[0].strip(), "end": parts[1].strip()}

    @field_validator("end")
    @classmethod
    def _not_reversed(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"end {end} is before start {start}: the range is reversed")
        return end


class GridConfig(Section):
    """The output grid every load is reprojected onto."""

    crs: Text = Field(description="projected CRS in metres, e.g. 'EPSG:6671' (JGD2011 zone III)")
    resolution: Float = Field(gt=0, description="pixel size of Sentinel-2 products, metres")
    sar_resolution: Float = Field(gt=0, description="pixel size of Sentinel-1 products, metres")
    chunk_size: Int = Field(ge=256, le=8192, description="dask chunk edge, pixels")
    resampling: Literal["nearest", "bilinear", "cubic", "average"] = Field(
        default="bilinear",
        description="resampling of continuous bands onto the grid (classes always nearest); "
        "nearest warps about 1.7x faster but keeps full sensor noise",
    )

    @field_validator("crs")
    @classmethod
    def _projected_in_metres(cls, value: str) -> str:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(value)
        except CRSError as e:
            raise ValueError(f"not a CRS pyproj knows ({e}); expected e.g. 'EPSG:6671'") from None
        if not crs.is_projected:
            raise ValueError(f"{crs.name} is not projected; expected a projected CRS in metres")
        units = sorted({axis.unit_name for axis in crs.axis_info})
        if not set(units) <= {"metre", "meter"}:
            raise ValueError(f"{crs.name} has axis units {units}; expected metres")
        return value


class BoundariesConfig(Section):
    """Official municipal boundaries (MLIT N03)."""

    path: ConfigPath | None = Field(
        description="N03 file (GeoJSON, shapefile or the official zip); null: not available"
    )
    prefecture_code: Annotated[Text, AfterValidator(check_prefecture_code)] = Field(
        description="JIS prefecture code, two digits as text"
    )


class SampleConfig(Section):
    """The embedded synthetic sample archive."""

    root: ConfigPath = Field(description="folder `yamasat sample build` writes to by default")
    seed: Int = Field(ge=0, description="seed of the deterministic scene generator")
    bbox: Annotated[tuple[Float, Float, Float, Float], AfterValidator(check_bbox)] = Field(
        description="extent [west, south, east, north], degrees (EPSG:4326)"
    )


class MaskingConfig(Section):
    """Cloud and quality masking of Sentinel-2 L2A."""

    scl_mask_classes: tuple[Annotated[int, Field(strict=True, ge=0, le=11)], ...] = Field(
        description="scene classification (SCL) classes 0..11 flagged as invalid"
    )
    dilation_px: Int = Field(ge=0, description="mask dilation radius, pixels")


class ChangeConfig(Section):
    """Generic change detection on the difference of a spectral index (after minus before)."""

    index: Literal["ndvi", "ndwi", "mndwi", "nbr", "ndmi"] = Field(
        description="normalised-difference index compared between the periods"
    )
    threshold: Annotated[Literal["otsu"] | float, BeforeValidator(check_threshold)] = Field(
        description="'otsu' (Otsu 1979, on the difference) or a fixed difference threshold"
    )
    direction: Literal["decrease", "increase", "both"] = Field(
        description="which sign of change is detected"
    )
    min_mapping_unit_px: Int = Field(ge=1, description="smallest region kept (sieve), pixels")
    method: Literal["index", "cva"] = Field(
        default="index",
        description="'index': the difference of `index`; 'cva': the change-vector magnitude "
        "over `cva_bands` (Malila 1980), detected where it increases past the threshold",
    )
    cva_bands: tuple[Literal["blue", "green", "red", "nir", "nir08", "swir16", "swir22"], ...] = (
        Field(default=("red", "nir", "swir16"), min_length=1, description="bands of 'cva'")
    )
    otsu_limit: Float | None = Field(
        default=None,
        description="an Otsu threshold is never weaker than this (a smaller change is not "
        "land-cover change); null: no limit",
    )
    max_after: Float | None = Field(
        default=None,
        description="change only where `index` after is below this (no longer vegetated); "
        "null: no such gate",
    )
    edge_window_px: Literal[0, 3, 5, 7, 9] = Field(
        default=0, description="boundary pixels by their changed fraction in this window; 0: off"
    )


class LandslideConfig(Section):
    """Landslide mapping from NDVI loss, bare soil and slope."""

    max_dndvi: Float = Field(default=-0.2, lt=0, description="NDVI must drop below this")
    max_post_ndvi: Float = Field(default=0.2, description="NDVI after below this: bare soil")
    min_slope_deg: Float = Field(default=15.0, ge=0, le=90, description="slope at least this")
    max_post_mndwi: Float = Field(default=0.0, description="MNDWI after above this is water")
    min_mapping_unit_px: Int = Field(default=8, ge=1, description="smallest scar, pixels")
    min_post_bsi: Float = Field(default=0.1, description="BSI after at least this: bare soil")
    max_post_ndti: Float = Field(default=0.2, description="NDTI after below this: not residue")
    edge_dndvi: Float = Field(default=-0.3, lt=0, description="scar edge pixels lost this NDVI")
    grow_px: Int = Field(default=2, ge=0, le=10, description="how far a scar grows into its edge")
    max_area_px: Int = Field(default=1000, ge=1, description="largest scar, pixels")
    min_fall_line_elongation: Float = Field(default=1.0, ge=0, description="downslope/across")
    min_core_share: Float = Field(default=0.3, ge=0, le=1, description="bare-core share")
    min_cut_core_share: Float = Field(default=0.5, ge=0, le=1, description="same, cut by clouds")


class BurnConfig(Section):
    """Burn mapping from dNBR (USGS severity classes)."""

    min_dnbr: Float = Field(default=0.27, gt=0, le=2, description="dNBR at or above: burned")
    min_mapping_unit_px: Int = Field(default=10, ge=1, description="smallest burned region")


class AnalyticsConfig(Section):
    """Parameters of the analyses."""

    min_valid_fraction: Float = Field(
        gt=0, le=1, description="valid-coverage fraction below which the outcome is insufficient"
    )
    change: ChangeConfig = Field(description="generic change detection")
    flood: FloodConfig = Field(default_factory=FloodConfig, description="flood mapping")
    landslide: LandslideConfig = Field(
        default_factory=LandslideConfig, description="landslide mapping"
    )
    burn: BurnConfig = Field(default_factory=BurnConfig, description="burn mapping")


class DaskConfig(Section):
    """Where the dask graphs run."""

    scheduler: Text = Field(
        default="auto",
        description="'auto' (threads on up to 4 usable CPUs, else a LocalCluster sharing every "
        "CPU), 'threads' (one process), 'local-cluster' (a dask.distributed LocalCluster of "
        "worker processes) or a scheduler address such as 'tcp://10.0.0.5:8786' to scale "
        "beyond one machine",
    )
    n_workers: Int = Field(
        default=2,
        ge=1,
        description="LocalCluster worker processes (local-cluster, or auto above 4 CPUs)",
    )
    threads_per_worker: Int = Field(default=1, ge=1, description="threads per worker")
    dashboard_address: Text = Field(
        default="127.0.0.1:8787", description="LocalCluster dashboard (loopback); ':0' picks a port"
    )
    connect_timeout_s: Float = Field(
        default=10.0, gt=0, description="give up connecting to a scheduler address after this"
    )


class StorageConfig(Section):
    """Where products and the registry live."""

    output_root: ConfigPath = Field(description="output folder, itself a STAC catalog")
    registry_url: Annotated[Text | None, AfterValidator(check_database_url)] = Field(
        description="SQLAlchemy URL of the registry; null: a SQLite file in output_root"
    )
    float_max_error: Float | None = Field(
        default=1e-4,
        gt=0,
        le=0.01,
        description="measured rasters within this absolute error per pixel: ΔNDVI and ΔNBR as "
        "int16 × 1e-4 (ZSTD) when it is at least 1e-4, MNDWI and slope LERC-compressed; null: "
        "lossless float32 DEFLATE (about 3× larger, 2× slower to write)",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if isinstance(value, str) else value)


class IndicatorPoint(Section):
    """One point of the indicator: a cumulative count in a Japanese fiscal year."""

    fy: Int = Field(ge=2000, le=2100, description="fiscal year N (1 April N to 31 March N+1)")
    value: Int = Field(ge=0, description="cumulative number of solutions")


class IndicatorConfig(Section):
    """The program indicator: solutions developed using satellite data (cumulative)."""

    baseline: IndicatorPoint = Field(description="baseline fiscal year and count")
    target: IndicatorPoint = Field(description="target fiscal year and count")

    @field_validator("target")
    @classmethod
    def _after_baseline(cls, target: IndicatorPoint, info: ValidationInfo) -> IndicatorPoint:
        baseline = info.data.get("baseline")
        if baseline is not None and target.fy <= baseline.fy:
            raise ValueError(f"target fy {target.fy} must be after baseline fy {baseline.fy}")
        if baseline is not None and target.value < baseline.value:
            raise ValueError(f"target value {target.value} is below baseline {baseline.value}")
        return target


FlowName = Literal[
    "change_detection",
    "flood_mapping",
    "landslide_mapping",
    "burn_mapping",
    "s1_flood_check",
    "rain_watch",
    "indicator_report",
]
"""The flows a deployment may run (the names of the Prefect flows)."""
FLOW_NAMES: tuple[str, ...] = get_args(FlowName)


class DeploymentConfig(Section):
    """One scheduled deployment: which flow, when (cron in a time zone), with what."""

    flow: FlowName = Field(description="the Prefect flow to run")
    cron: Text | None = Field(default=None, description="cron, e.g. '0 3 * * 1'; null: on demand")
    timezone: Text | None = Field(
        default=None, description="IANA time zone of the cron; null: orchestration.timezone"
    )
    parameters: Annotated[dict[str, Any], AfterValidator(read_only)] = Field(
        default_factory=dict, validate_default=True, description="flow parameters (P30D/today)"
    )
    concurrency_limit: Int = Field(
        default=1, ge=1, description="runs of this deployment at once; more wait in line"
    )
    active: bool = Field(default=True, description="false: deployed with its schedule paused")
    description: str = Field(default="", description="shown in the Prefect UI")


class OrchestrationConfig(Section):
    """Scheduled deployments (``yamasat serve``, ``prefect.yaml``) and run coordination."""

    timezone: Text = Field(
        default="Asia/Tokyo", description="time zone of schedules and of 'today' in periods"
    )
    same_product_wait_s: Float = Field(
        default=3600.0,
        ge=0,
        description="a run wanting a product another run is making waits this long, then "
        "is refused (reason 'busy')",
    )
    api_lost_timeout_s: Float = Field(
        default=30.0,
        gt=0,
        description="a run whose Prefect API has not answered for this long fails (reason "
        "'api_lost', exit status 7) instead of retrying for minutes",
    )
    work_pool: Text = Field(
        default="yamasat-process", description="process work pool named in prefect.yaml"
    )
    prefect_heartbeat_s: Int | None = Field(
        default=None,
        ge=30,
        description="Prefect flow-run heartbeats (seconds) for runs the CLI makes (run, demo, "
        "runs resume), which let a Prefect server detect crashed runs; null turns them off: "
        "with them on, Prefect 3.9 ends every run on a whole second (0.5 s a run on average)",
    )
    deployments: Annotated[
        dict[Annotated[str, AfterValidator(check_slug)], DeploymentConfig],
        AfterValidator(read_only),
    ] = Field(default_factory=dict, description="deployments by name (slugs)")


class Settings(Section):
    """The whole configuration, validated and frozen. Build it with :func:`load_settings`."""

    grid: GridConfig = Field(description="output grid")
    boundaries: BoundariesConfig = Field(description="municipal boundaries")
    sample: SampleConfig = Field(description="embedded sample archive")
    sources: Annotated[
        dict[Annotated[str, AfterValidator(check_slug)], SourceConfig], AfterValidator(read_only)
    ] = Field(description="data sources by name (slugs)")
    network: NetworkConfig = Field(description="network policy")
    masking: MaskingConfig = Field(description="cloud masking")
    analytics: AnalyticsConfig = Field(description="analysis parameters")
    dask: DaskConfig = Field(default_factory=DaskConfig, description="where dask graphs run")
    storage: StorageConfig = Field(description="outputs and registry")
    indicator: IndicatorConfig = Field(description="program indicator")
    orchestration: OrchestrationConfig = Field(
        default_factory=OrchestrationConfig, description="schedules and run coordination"
    )
    rainfall: RainfallConfig = Field(
        default_factory=RainfallConfig, description="daily rainfall and rain events"
    )

    @model_validator(mode="after")
    def _plain_http_hosts_allowed(self) -> Settings:
        errors: list[InitErrorDetails] = []
        for name, source in self.sources.items():
            parts = urlsplit(source.location or "")
            if parts.scheme.lower() != "http" or not parts.hostname:
                continue
            host = parts.hostname.lower()
            shown = f"[{host}]" if ":" in host else host
            if not {host, shown, f"{shown}:{parts.port or 80}"} & set(
                self.network.allowed_http_hosts
            ):
                message = (
                    f"plain http to {shown} is not allowed; use https or add {shown!r} to "
                    "network.allowed_http_hosts"
                )
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError("http_host", message),
                        loc=("sources", name, "location"),
                        input=source.location,
                    )
                )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @model_validator(mode="after")
    def _family_members_exist(self) -> Settings:
        for name, source in self.sources.items():
            for family, member in source.families.items():
                other = self.sources.get(member)
                if other is None or other.kind == "by-family":
                    raise ValueError(
                        f"sources.{name}.families.{family}: {member!r} is not a configured "
                        f"source of kind static or stac-api (configured: "
                        f"{', '.join(sorted(self.sources))})"
                    )
        return self

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in type(self).model_fields))

    def source(self, name: str) -> SourceConfig:
        """The source named ``name``; :class:`ConfigError` listing the known ones if none is."""
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise ConfigError(
                f"unknown source {name!r}; configured sources: {known}. "
                "Use one of them or add it under 'sources:' in the config file."
            ) from None

    def for_output(self, output_root: str | Path | None) -> Settings:
        """These settings for a command whose products go to ``output_root`` (its ``--out``):
        ``storage.output_root`` becomes that folder, so the registry follows it (its
        ``registry.sqlite``) unless ``storage.registry_url`` names one. The one rule of where
        the registry lives; unchanged when ``output_root`` is None."""
        if output_root is None:
            return self
        root = Path(output_root).expanduser().resolve()
        if root == self.storage.output_root:
            return self
        storage = self.storage.model_copy(update={"output_root": root})
        return self.model_copy(update={"storage": storage})

    @property
    def registry_url_resolved(self) -> str:
        """``storage.registry_url``, or ``sqlite:///<output_root>/registry.sqlite`` when unset."""
        if self.storage.registry_url is not None:
            return self.storage.registry_url
        return f"sqlite:///{(self.storage.output_root / 'registry.sqlite').as_posix()}"

    def describe(self) -> dict[str, Any]:
        """A JSON-safe view for display; secret-looking keys and URL credentials are masked."""
        return cast(dict[str, Any], masked(self.model_dump(mode="json")))
