"""Configuration: ``config/yamasat.yaml``, its override layers, and the frozen objects it becomes.

Three layers, each deep-merged over the previous one (mappings merge key by key; lists and
values are replaced):

1. the default file: ``base`` if given, else :func:`default_config_path`;
2. an override file: the ``override`` argument, else the file named by ``$YAMASAT_CONFIG``;
3. environment variables ``YAMASAT_<SECTION>__<KEY>[__<SUBKEY>]``, for example
   ``YAMASAT_STORAGE__OUTPUT_ROOT=/data/out``, ``YAMASAT_MASKING__SCL_MASK_CLASSES=[0,3,8,9]``,
   ``YAMASAT_SOURCES__EARTH_SEARCH__LOCATION=https://...``. Names are case-insensitive; in a
   source name ``_`` stands for ``-``. A value is read as one YAML value (``10``, ``true``,
   ``null``, ``[1, 2]``); for a text or path key, a value that YAML reads as something other
   than text or null is taken exactly as written. ``YAMASAT_*`` names without ``__`` (such as
   ``YAMASAT_CONFIG``, or secrets) are not configuration keys and are left alone.

Relative paths become absolute while loading: those of the default file and of environment
variables against the working directory, those of an override file against its folder.

Every problem found raises one :class:`~catalogs.errors.ConfigError` that lists them all, each
with the file or environment variable it came from, the dotted key, the value and what is
expected. YAML is read with a safe loader that also refuses duplicate keys: nothing in a file
is executed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    NoReturn,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..errors import ConfigError
from .yaml_files import _looks_secret, _mask_url, _masked, _parse_yaml

__all__ = [
    "FLOW_NAMES",
    "AnalyticsConfig",
    "BoundariesConfig",
    "ChangeConfig",
    "ConfigDate",
    "ConfigPath",
    "DateRange",
    "DeploymentConfig",
    "FlowName",
    "GridConfig",
    "IndicatorConfig",
    "IndicatorPoint",
    "MaskingConfig",
    "NetworkConfig",
    "OrchestrationConfig",
    "SampleConfig",
    "Settings",
    "SourceConfig",
    "StorageConfig",
    "default_config_path",
    "load_settings",
]

ENV_PREFIX = "YAMASAT_"
ENV_CONFIG = "YAMASAT_CONFIG"
_ENV_SEP = "__"
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOSTNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$")
_SECRET_WORD_RE = re.compile(r"token|password|passwd|secret|credential|apikey|api_key", re.I)
_SECRET_PART_RE = re.compile(r"(?:^|[_\-.])(?:keys?|pwd|sig|signature)(?:$|[_\-.])", re.I)
_MASK = "***"
_K = TypeVar("_K")
_V = TypeVar("_V")


# --------------------------------------------------------------------------- field types


@dataclass(frozen=True)
class _Relative:
    """Marks a field whose relative values resolve against the folder of their layer."""


_RELATIVE = _Relative()
_Int = Annotated[int, Field(strict=True)]
_Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Text = Annotated[str, Field(strict=True)]


def _is_url(text: str) -> bool:
    return bool(_URL_RE.match(text)) or text.lower().startswith("/vsi")


def _to_abs_path(value: object) -> Path:
    if not isinstance(value, str | Path):
        raise ValueError(f"expected a path written as text, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise ValueError("expected a path, got an empty string")
    if _is_url(text):
        raise ValueError("expected a local path, not a URL or a GDAL virtual path")
    return Path(os.path.abspath(Path(text).expanduser()))


ConfigPath = Annotated[Path, BeforeValidator(_to_abs_path), _RELATIVE]
"""A local path, stored absolute (outside :func:`load_settings`, relative to the cwd)."""


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(f"malformed date ({e}); expected YYYY-MM-DD") from None
    raise ValueError("malformed date; expected YYYY-MM-DD (ISO 8601), for example 2024-04-01")


ConfigDate = Annotated[date, BeforeValidator(_to_date)]
"""A calendar date written ``YYYY-MM-DD``; a datetime, ``2024-02-30`` or ``20240401`` is
refused. Every date field of the configuration uses it; ranges use :class:`DateRange`."""


def _slug(name: str) -> str:
    if not _SLUG_RE.fullmatch(name):
        raise ValueError(
            "a name must be a slug: lower-case letters, digits and '-', beginning and ending "
            "with a letter or digit (for example 'earth-search')"
        )
    return name


class _ReadOnlyDict(dict[_K, _V]):
    """A dict that refuses changes, so that a frozen model holding one stays frozen."""

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("settings are read-only; load them again with other values instead")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


def _read_only(value: dict[str, Any]) -> dict[str, Any]:
    return _ReadOnlyDict(value)


# --------------------------------------------------------------------------- models


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DateRange(_Section):
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


class GridConfig(_Section):
    """The output grid every load is reprojected onto."""

    crs: _Text = Field(description="projected CRS in metres, e.g. 'EPSG:6671' (JGD2011 zone III)")
    resolution: _Float = Field(gt=0, description="pixel size of Sentinel-2 products, metres")
    sar_resolution: _Float = Field(gt=0, description="pixel size of Sentinel-1 products, metres")
    chunk_size: _Int = Field(ge=256, le=8192, description="dask chunk edge, pixels")
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


def _prefecture_code(value: str) -> str:
    if not (len(value) == 2 and value.isdigit() and 1 <= int(value) <= 47):
        raise ValueError("expected a 2-digit prefecture code '01'..'47', quoted (Yamaguchi: '35')")
    return value


class BoundariesConfig(_Section):
    """Official municipal boundaries (MLIT N03)."""

    path: ConfigPath | None = Field(
        description="N03 file (GeoJSON, shapefile or the official zip); null: not available"
    )
    prefecture_code: Annotated[_Text, AfterValidator(_prefecture_code)] = Field(
        description="JIS prefecture code, two digits as text"
    )


def _check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = bbox
    expected = "expected [west, south, east, north] = [lon, lat, lon, lat] in degrees"
    lat_ok = all(-90 <= v <= 90 for v in (south, north))
    if not lat_ok and all(-90 <= v <= 90 for v in (west, east)):
        raise ValueError(f"latitude and longitude look swapped: {expected}")
    if not lat_ok or not all(-180 <= v <= 180 for v in (west, east)):
        raise ValueError(f"outside longitude [-180, 180] or latitude [-90, 90]; {expected}")
    if west >= east:
        raise ValueError(f"west {west} is not less than east {east}: reversed bbox; {expected}")
    if south >= north:
        raise ValueError(f"south {south} is not less than north {north}: reversed bbox; {expected}")
    return bbox


class SampleConfig(_Section):
    """The embedded synthetic sample archive."""

    root: ConfigPath = Field(description="folder `yamasat sample build` writes to by default")
    seed: _Int = Field(ge=0, description="seed of the deterministic scene generator")
    bbox: Annotated[tuple[_Float, _Float, _Float, _Float], AfterValidator(_check_bbox)] = Field(
        description="extent [west, south, east, north], degrees (EPSG:4326)"
    )


class SourceConfig(_Section):
    """A configured data source."""

    kind: Literal["static", "stac-api"] = Field(
        description="'static': a catalog.json walked link by link; 'stac-api': a /search endpoint"
    )
    location: Annotated[_Text, _RELATIVE] = Field(
        description="http(s) URL of the API root or catalog.json, or a local catalog.json path"
    )
    profile: Literal["earth-search", "planetary-computer", "jaxa-earth"] = Field(
        description="asset layout of the provider, mapping its asset keys to our band names"
    )

    @field_validator("location")
    @classmethod
    def _http_url_or_path(cls, value: str, info: ValidationInfo) -> str:
        text = value.strip()
        if _URL_RE.match(text):
            parts = urlsplit(text)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise ValueError("expected an http(s) URL with a host, or a local path")
            return text
        if info.data.get("kind") == "stac-api":
            raise ValueError("a stac-api source needs an http(s) URL such as 'https://host/v1'")
        return str(_to_abs_path(text))


def _host_entry(value: str) -> str:
    text = value.strip().lower()
    try:
        ipaddress.ip_address(text)  # a bare IPv6 literal such as ::1
        return text
    except ValueError:
        pass
    shape = "expected 'host' or 'host:port' (IPv6 as '[::1]:8080'), without scheme or path"
    if not text or any(c in text for c in "/\\@?# "):
        raise ValueError(shape)
    try:
        parts = urlsplit("//" + text)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError(shape) from None
    if not host or parts.netloc != text:
        raise ValueError(shape)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(shape) from None
    return text


class NetworkConfig(_Section):
    """Timeouts, retries and the allow lists of the href policy."""

    timeout_s: _Float = Field(gt=0, description="connect/read timeout of each request, seconds")
    max_retries: _Int = Field(ge=0, description="retries on connection errors, 429 and 5xx")
    backoff_s: _Float = Field(ge=0, description="first backoff, doubled each retry, seconds")
    allowed_http_hosts: tuple[Annotated[_Text, AfterValidator(_host_entry)], ...] = Field(
        description="hosts ('host' or 'host:port') that plain http and private addresses may reach"
    )
    allowed_roots: tuple[ConfigPath, ...] = Field(
        description="local folders assets may be read from (absolute)"
    )


class MaskingConfig(_Section):
    """Cloud and quality masking of Sentinel-2 L2A."""

    scl_mask_classes: tuple[Annotated[int, Field(strict=True, ge=0, le=11)], ...] = Field(
        description="scene classification (SCL) classes 0..11 flagged as invalid"
    )
    dilation_px: _Int = Field(ge=0, description="mask dilation radius, pixels")


def _threshold(value: object) -> str | float:
    if value == "otsu":
        return "otsu"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if -2.0 <= float(value) <= 2.0:
            return float(value)
        raise ValueError("a difference of normalised indices lies in [-2, 2]")
    raise ValueError("expected 'otsu' or a number in [-2, 2]")


class ChangeConfig(_Section):
    """Generic change detection on the difference of a spectral index (after minus before)."""

    index: Literal["ndvi", "ndwi", "mndwi", "nbr", "ndmi"] = Field(
        description="normalised-difference index compared between the periods"
    )
    threshold: Annotated[Literal["otsu"] | float, BeforeValidator(_threshold)] = Field(
        description="'otsu' (Otsu 1979, on the difference) or a fixed difference threshold"
    )
    direction: Literal["decrease", "increase", "both"] = Field(
        description="which sign of change is detected"
    )
    min_mapping_unit_px: _Int = Field(ge=1, description="smallest region kept (sieve), pixels")


class FloodConfig(_Section):
    """Flood mapping (Sentinel-1 detectors by vote; Sentinel-2 MNDWI)."""

    change_db: _Float = Field(default=-3.0, lt=0, description="S1: post − pre VV (dB) below this")
    vv_water_fallback_db: _Float = Field(
        default=-18.0, description="S1: VV water threshold when Otsu finds no bimodal histogram"
    )
    vh_water_fallback_db: _Float = Field(
        default=-24.0, description="S1: VH water threshold when Otsu finds no bimodal histogram"
    )
    max_slope_deg: _Float = Field(default=5.0, gt=0, le=90, description="steeper is excluded")
    speckle_window: _Int = Field(default=5, ge=3, le=15, description="Lee filter window, pixels")
    min_mapping_unit_px: _Int = Field(default=10, ge=1, description="smallest flood region")


class LandslideConfig(_Section):
    """Landslide mapping from NDVI loss, bare soil and slope."""

    max_dndvi: _Float = Field(default=-0.2, lt=0, description="NDVI must drop below this")
    max_post_ndvi: _Float = Field(default=0.25, description="NDVI after below this: bare soil")
    min_slope_deg: _Float = Field(default=15.0, ge=0, le=90, description="slope at least this")
    max_post_mndwi: _Float = Field(default=0.0, description="MNDWI after above this is water")
    min_mapping_unit_px: _Int = Field(default=20, ge=1, description="smallest scar, pixels")


class BurnConfig(_Section):
    """Burn mapping from dNBR (USGS severity classes)."""

    min_dnbr: _Float = Field(default=0.27, gt=0, le=2, description="dNBR at or above: burned")
    min_mapping_unit_px: _Int = Field(default=10, ge=1, description="smallest burned region")


class AnalyticsConfig(_Section):
    """Parameters of the analyses."""

    min_valid_fraction: _Float = Field(
        gt=0, le=1, description="valid-coverage fraction below which the outcome is insufficient"
    )
    change: ChangeConfig = Field(description="generic change detection")
    flood: FloodConfig = Field(default_factory=FloodConfig, description="flood mapping")
    landslide: LandslideConfig = Field(
        default_factory=LandslideConfig, description="landslide mapping"
    )
    burn: BurnConfig = Field(default_factory=BurnConfig, description="burn mapping")


def _database_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^[a-z][a-z0-9+]*://", value):
        raise ValueError(
            "expected a SQLAlchemy URL such as 'sqlite:////abs/registry.sqlite' or "
            "'postgresql://host/db'"
        )
    return value


class DaskConfig(_Section):
    """Where the dask graphs run."""

    scheduler: _Text = Field(
        default="local-cluster",
        description="'threads' (one process; fastest on a small machine), 'local-cluster' "
        "(a dask.distributed LocalCluster of worker processes) or a scheduler address such as "
        "'tcp://10.0.0.5:8786' to scale beyond one machine",
    )
    n_workers: _Int = Field(default=2, ge=1, description="LocalCluster worker processes")
    threads_per_worker: _Int = Field(default=1, ge=1, description="threads per worker")
    dashboard_address: _Text = Field(
        default="127.0.0.1:8787", description="LocalCluster dashboard (loopback); ':0' picks a port"
    )
    connect_timeout_s: _Float = Field(
        default=10.0, gt=0, description="give up connecting to a scheduler address after this"
    )


class StorageConfig(_Section):
    """Where products and the registry live."""

    output_root: ConfigPath = Field(description="output folder, itself a STAC catalog")
    registry_url: Annotated[_Text | None, AfterValidator(_database_url)] = Field(
        description="SQLAlchemy URL of the registry; null: a SQLite file in output_root"
    )
    float_max_error: _Float | None = Field(
        default=1e-4,
        gt=0,
        le=0.01,
        description="float COGs (ΔNDVI, MNDWI, slope, ΔNBR) are LERC-compressed with at most this "
        "absolute error per pixel; null: lossless DEFLATE (about 3× larger, 2× slower to write)",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (_mask_url(value) if isinstance(value, str) else value)


class IndicatorPoint(_Section):
    """One point of the indicator: a cumulative count in a Japanese fiscal year."""

    fy: _Int = Field(ge=2000, le=2100, description="fiscal year N (1 April N to 31 March N+1)")
    value: _Int = Field(ge=0, description="cumulative number of solutions")


class IndicatorConfig(_Section):
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
    "indicator_report",
]
"""The flows a deployment may run (the names of the Prefect flows)."""
FLOW_NAMES: tuple[str, ...] = get_args(FlowName)


class DeploymentConfig(_Section):
    """One scheduled deployment: which flow, when (cron in a time zone), with what."""

    flow: FlowName = Field(description="the Prefect flow to run")
    cron: _Text = Field(description="five-field cron schedule, e.g. '0 3 * * 1' (03:00 Mondays)")
    timezone: _Text | None = Field(
        default=None, description="IANA time zone of the cron; null: orchestration.timezone"
    )
    parameters: Annotated[dict[str, Any], AfterValidator(_read_only)] = Field(
        default_factory=dict, description="flow parameters (periods may be relative: P30D/today)"
    )
    concurrency_limit: _Int = Field(
        default=1, ge=1, description="runs of this deployment at once; more wait in line"
    )
    active: bool = Field(default=True, description="false: deployed with its schedule paused")
    description: str = Field(default="", description="shown in the Prefect UI")


class OrchestrationConfig(_Section):
    """Scheduled deployments (``yamasat serve``, ``prefect.yaml``) and run coordination."""

    timezone: _Text = Field(
        default="Asia/Tokyo", description="time zone of schedules and of 'today' in periods"
    )
    same_product_wait_s: _Float = Field(
        default=3600.0,
        ge=0,
        description="a run wanting a product another run is making waits this long, then "
        "is refused (reason 'busy')",
    )
    work_pool: _Text = Field(
        default="yamasat-process", description="process work pool named in prefect.yaml"
    )
    prefect_heartbeat_s: _Int | None = Field(
        default=None,
        ge=30,
        description="Prefect flow-run heartbeats (seconds) for runs the CLI makes (run, demo, "
        "runs resume), which let a Prefect server detect crashed runs; null turns them off: "
        "with them on, Prefect 3.9 ends every run on a whole second (0.5 s a run on average)",
    )
    deployments: Annotated[
        dict[Annotated[str, AfterValidator(_slug)], DeploymentConfig], AfterValidator(_read_only)
    ] = Field(default_factory=dict, description="deployments by name (slugs)")


class Settings(_Section):
    """The whole configuration, validated and frozen. Build it with :func:`load_settings`."""

    grid: GridConfig = Field(description="output grid")
    boundaries: BoundariesConfig = Field(description="municipal boundaries")
    sample: SampleConfig = Field(description="embedded sample archive")
    sources: Annotated[
        dict[Annotated[str, AfterValidator(_slug)], SourceConfig], AfterValidator(_read_only)
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

    @model_validator(mode="after")
    def _plain_http_hosts_allowed(self) -> Settings:
        errors: list[InitErrorDetails] = []
        for name, source in self.sources.items():
            parts = urlsplit(source.location)
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

    @property
    def registry_url_resolved(self) -> str:
        """``storage.registry_url``, or ``sqlite:///<output_root>/registry.sqlite`` when unset."""
        if self.storage.registry_url is not None:
            return self.storage.registry_url
        return f"sqlite:///{(self.storage.output_root / 'registry.sqlite').as_posix()}"

    def describe(self) -> dict[str, Any]:
        """A JSON-safe view for display; secret-looking keys and URL credentials are masked."""
        return cast(dict[str, Any], _masked(self.model_dump(mode="json")))


# --------------------------------------------------------------------------- files


def _read_file(path: Path, role: str) -> dict[str, Any]:
    where = f"{role} {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist; check the path") from None
    except OSError as e:
        raise ConfigError(f"{where} cannot be read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise ConfigError(
            f"{where} is not UTF-8: byte 0x{data[e.start]:02x} at byte position {e.start} "
            f"(line {line}, column {column}); save the file as UTF-8"
        ) from None
    content = _parse_yaml(text, where)
    sections = ", ".join(Settings.model_fields)
    if content is None:
        raise ConfigError(f"{where} is empty; expected a mapping of sections ({sections})")
    if not isinstance(content, dict):
        raise ConfigError(
            f"{where}: the top level is a {type(content).__name__}; expected a mapping of "
            f"sections ({sections})"
        )
    _check_keys(content, (), where)
    return content


def _check_keys(node: dict[Any, Any], path: tuple[str, ...], where: str) -> None:
    for key, value in node.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"{where}: key {key!r} ({type(key).__name__}) in "
                f"{_dotted(path) or 'the top level'}: keys must be text; quote it"
            )
        if isinstance(value, dict):
            _check_keys(value, (*path, key), where)


# --------------------------------------------------------------------------- schema walking

_Slot = tuple[Any, tuple[Any, ...]]  # (annotation, metadata) of a position in Settings
_ROOT: _Slot = (Settings, ())


def _unwrap(slot: _Slot) -> _Slot:
    """Strip ``Annotated`` (collecting its metadata) and ``X | None`` from a slot."""
    tp, meta = slot
    while True:
        if get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            meta = (*meta, *more)
        elif get_origin(tp) in (Union, UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, meta
            tp = args[0]
        else:
            return tp, meta


def _child(slot: _Slot | None, key: object) -> _Slot | None:
    tp = _unwrap(slot)[0] if slot is not None else None
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(key, str):
        field = tp.model_fields.get(key)
        return None if field is None else (field.annotation, tuple(field.metadata))
    if get_origin(tp) is dict:
        return (get_args(tp)[1], ())
    return None


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    slot: _Slot | None = _ROOT
    for key in path:
        slot = _child(slot, key)
    tp = _unwrap(slot)[0] if slot is not None else None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _relative_kind(slot: _Slot | None) -> Literal["one", "many"] | None:
    if slot is None:
        return None
    tp, meta = _unwrap(slot)
    if _RELATIVE in meta:
        return "one"
    args = get_args(tp)
    if get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return "many" if _RELATIVE in _unwrap((args[0], ()))[1] else None
    return None


def _resolve_text(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value.strip() or _is_url(value.strip()):
        return value
    return os.path.abspath(base / Path(value.strip()).expanduser())


def _resolve_paths(node: Any, base: Path, slot: _Slot | None = _ROOT) -> Any:
    """A copy of ``node`` whose relative paths (per the schema) are made absolute on ``base``."""
    if isinstance(node, dict):
        return {k: _resolve_paths(v, base, _child(slot, k)) for k, v in node.items()}
    kind = _relative_kind(slot)
    if kind == "one":
        return _resolve_text(node, base)
    if kind == "many" and isinstance(node, list):
        return [_resolve_text(v, base) for v in node]
    return node


# --------------------------------------------------------------------------- layers

_Provenance = dict[tuple[str, ...], str]  # key path of each value -> where it was set


def _put(
    target: dict[str, Any], path: tuple[str, ...], value: Any, origin: str, prov: _Provenance
) -> None:
    for stale in [p for p in prov if p[: len(path)] == path]:
        del prov[stale]
    target[path[-1]] = value
    _record(value, path, origin, prov)


def _record(value: Any, path: tuple[str, ...], origin: str, prov: _Provenance) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _record(item, (*path, key), origin, prov)
    else:
        prov[path] = origin


def _merge(
    target: dict[str, Any],
    layer: dict[str, Any],
    origin: str,
    prov: _Provenance,
    path: tuple[str, ...] = (),
) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, origin, prov, (*path, key))
        else:
            _put(target, (*path, key), value, origin, prov)


def _env_key_path(name: str) -> tuple[tuple[str, ...], _Slot | None]:
    path: tuple[str, ...] = ()
    slot: _Slot | None = _ROOT
    for part in name[len(ENV_PREFIX) :].split(_ENV_SEP):
        in_mapping = slot is not None and get_origin(_unwrap(slot)[0]) is dict
        key = part.lower().replace("_", "-") if in_mapping else part.lower()
        path, slot = (*path, key), _child(slot, key)
    return path, slot


def _apply_env(
    env: Mapping[str, str],
    cwd: Path,
    merged: dict[str, Any],
    prov: _Provenance,
    problems: list[str],
) -> None:
    """Apply the ``YAMASAT_<SECTION>__<KEY>...`` variables to ``merged``; collect problems."""
    sections = ", ".join(Settings.model_fields)
    set_by: dict[tuple[str, ...], str] = {}
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == ENV_CONFIG:
            continue
        where = f"environment variable {name}"
        parts = name[len(ENV_PREFIX) :].split(_ENV_SEP)
        if len(parts) == 1:
            if parts[0].lower() in Settings.model_fields:
                problems.append(f"{where}: set one key, as {upper}{_ENV_SEP}<KEY>")
            continue
        if not all(parts):
            problems.append(f"{where}: an empty key between '{_ENV_SEP}' separators")
            continue
        if parts[0].lower() not in Settings.model_fields:
            problems.append(f"{where}: unknown section {parts[0].lower()!r}; sections: {sections}")
            continue
        path, slot = _env_key_path(name)
        if path in set_by:
            problems.append(f"{where} and {set_by[path]} both set {_dotted(path)}")
            continue
        set_by[path] = where
        try:
            value = _parse_yaml(env[name], where)
        except ConfigError as e:
            problems.append(f"{e} (quote the value if it is meant as text)")
            continue
        text_key = slot is not None and _unwrap(slot)[0] in (str, Path)
        if text_key and value is not None and not isinstance(value, str):
            value = env[name]
        node = merged
        for depth, key in enumerate(path[:-1]):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                problems.append(f"{where}: {_dotted(path[: depth + 1])} is a value, not a section")
                break
        else:
            _put(node, path, _resolve_paths(value, cwd, slot), where, prov)


# --------------------------------------------------------------------------- error text


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text


def _show(value: Any, loc: tuple[Any, ...]) -> str:
    if any(_looks_secret(part) for part in loc if isinstance(part, str)):
        return _MASK
    text = json.dumps(_masked(value), ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _origin(loc: tuple[Any, ...], prov: _Provenance) -> str:
    """Where the value at ``loc`` (or, failing that, its section) was set."""
    keys = tuple(p for p in loc if isinstance(p, str) and p != "[key]")
    for n in range(len(keys), 0, -1):
        if keys[:n] in prov:
            return prov[keys[:n]]
    for n in range(len(keys), -1, -1):
        below = sorted({o for p, o in prov.items() if p[:n] == keys[:n]})
        if below:
            return "; ".join(below)
    return "the configuration"


def _problem(error: Mapping[str, Any], prov: _Provenance) -> str:
    loc = tuple(error["loc"])
    key, where = _dotted(loc) or "(top level)", _origin(loc, prov)
    if error["type"] == "missing" and loc and isinstance(loc[-1], int):
        shown = _show(error.get("input"), loc)
        return f"{_dotted(loc[:-1])} = {shown} ({where}): too few items; item {loc[-1]} is missing"
    if error["type"] == "missing":
        return f"{key} ({where}): missing; this key is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else "?"
        message = f"unknown key; allowed keys of {_dotted(loc[:-1]) or 'the top level'}: {allowed}"
    elif loc and loc[-1] == "[key]":
        message = f"invalid name: {message}"
    return f"{key} = {_show(error.get('input'), loc)} ({where}): {message}"


# --------------------------------------------------------------------------- entry points


def default_config_path() -> Path:
    """The repository's ``config/yamasat.yaml``, else the wheel's ``yamasat/_config`` copy."""
    repo = Path(__file__).resolve().parents[2] / "config" / "yamasat.yaml"
    if repo.is_file():
        return repo
    packaged = resources.files("yamasat") / "_config" / "yamasat.yaml"
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    return repo


def load_settings(
    override: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
) -> Settings:
    """Read, merge and validate the configuration layers (see the module docstring).

    ``override`` defaults to ``$YAMASAT_CONFIG``, ``env`` to ``os.environ``, ``base`` to
    :func:`default_config_path`. Raises :class:`ConfigError` listing every problem, each with
    its file or environment variable, dotted key and value; never returns a partial result.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    cwd = Path.cwd()
    merged: dict[str, Any] = {}
    prov: _Provenance = {}

    base_path = Path(os.path.abspath(base if base is not None else default_config_path()))
    layer = _read_file(base_path, "config file")
    _merge(merged, _resolve_paths(layer, cwd), f"in {base_path}", prov)

    role = "override config file"
    if override is None:
        named = next((v for k, v in environ.items() if k.upper() == ENV_CONFIG and v.strip()), None)
        if named is not None:
            override, role = Path(named.strip()), f"override config file (from {ENV_CONFIG})"
    if override is not None:
        path = Path(os.path.abspath(Path(override).expanduser()))
        layer = _read_file(path, role)
        _merge(merged, _resolve_paths(layer, path.parent), f"in {path}", prov)

    problems: list[str] = []
    _apply_env(environ, cwd, merged, prov, problems)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as e:
        problems.extend(_problem(err, prov) for err in e.errors())
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid configuration ({count}); fix them all and retry:\n{listing}")
    return settings
