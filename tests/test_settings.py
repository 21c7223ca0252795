"""Configuration loading: layers, path resolution, rejections with file/key/value, freezing."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from yamasat.errors import ConfigError
from yamasat.settings import (
    ConfigDate,
    DateRange,
    SampleConfig,
    Settings,
    SourceConfig,
    default_config_path,
    load_settings,
)

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "yamasat.yaml"


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own working directory, so relative paths are predictable."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _error(
    override: Path | None = None, *, env: dict[str, str] | None = None, base: Path | None = None
) -> str:
    """The message of the ConfigError that loading these layers raises."""
    with pytest.raises(ConfigError) as info:
        load_settings(override, env=env or {}, base=base)
    return str(info.value)


# --------------------------------------------------------------------------- the default file


def test_default_config_path_is_the_repository_file() -> None:
    assert default_config_path() == REPO_CONFIG
    assert default_config_path().is_file()


def test_default_config_path_in_an_installed_wheel(tmp_path: Path) -> None:
    # the wheel layout: no config/ beside the package, the file force-included as yamasat/_config
    site = tmp_path / "site-packages"
    package = Path(__file__).resolve().parents[1] / "yamasat"
    settings = sorted(f"settings/{p.name}" for p in (package / "settings").glob("*.py"))
    for name in ("__init__.py", "errors.py", *settings):
        _write(site / "yamasat" / name, (package / name).read_text(encoding="utf-8"))
    _write(site / "yamasat" / "_config" / "yamasat.yaml", REPO_CONFIG.read_text(encoding="utf-8"))
    code = (
        "from yamasat.settings import default_config_path, load_settings; "
        "print(default_config_path()); print(load_settings(env={}).grid.crs)"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(site / "yamasat" / "_config" / "yamasat.yaml"), "EPSG:6671"]


def test_default_file_loads_with_its_values(_in_tmp_cwd: Path) -> None:
    s = load_settings(env={})
    raw = yaml.safe_load(REPO_CONFIG.read_text(encoding="utf-8"))
    assert s.grid.crs == "EPSG:6671"
    assert s.grid.resolution == raw["grid"]["resolution"]
    assert s.grid.chunk_size == 1536
    assert s.boundaries.path is None
    assert s.boundaries.prefecture_code == "35"
    assert s.sample.seed == raw["sample"]["seed"]
    assert s.sample.bbox == tuple(raw["sample"]["bbox"])
    assert set(s.sources) == set(raw["sources"])
    assert s.source("earth-search") == SourceConfig(
        kind="stac-api", location=raw["sources"]["earth-search"]["location"], profile="earth-search"
    )
    assert s.masking.scl_mask_classes == (0, 1, 3, 8, 9, 10)
    assert s.analytics.change.threshold == -0.2 and s.analytics.change.max_after == 0.45
    assert s.indicator.baseline.fy == 2022 and s.indicator.baseline.value == 25
    assert s.indicator.target.fy == 2026 and s.indicator.target.value == 33
    # relative paths of the default file resolve against the working directory
    assert s.sample.root == _in_tmp_cwd / "yamasat-data" / "sample"
    assert s.storage.output_root == _in_tmp_cwd / "yamasat-data" / "products"
    assert s.storage.float_max_error == 1e-4  # LERC float COGs
    assert s.source("sample").location == str(_in_tmp_cwd / "yamasat-data/sample/catalog.json")


def test_every_model_field_has_a_description() -> None:
    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert model.model_config.get("frozen") and model.model_config.get("extra") == "forbid"
            for sub in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    walk(sub)

    walk(Settings)
    walk(SourceConfig)


def test_registry_url_defaults_to_sqlite_in_output_root(_in_tmp_cwd: Path) -> None:
    s = load_settings(env={})
    assert s.registry_url_resolved == (
        f"sqlite:///{_in_tmp_cwd.as_posix()}/yamasat-data/products/registry.sqlite"
    )
    s = load_settings(env={"YAMASAT_STORAGE__REGISTRY_URL": "postgresql://db.example/yamasat"})
    assert s.registry_url_resolved == "postgresql://db.example/yamasat"


def test_unknown_source_lists_the_known_ones() -> None:
    s = load_settings(env={})
    with pytest.raises(ConfigError, match=r"unknown source 'nope'.*earth-search.*sample"):
        s.source("nope")


# --------------------------------------------------------------------------- layers


def test_override_file_is_deep_merged(tmp_path: Path) -> None:
    override = _write(
        tmp_path / "site" / "override.yaml",
        """
grid:
  resolution: 20
sources:
  local:
    kind: static
    location: /srv/stac/catalog.json
    profile: jaxa-earth
masking:
  scl_mask_classes: [3, 8]
analytics:
  change:
    threshold: -0.2
""",
    )
    s = load_settings(override, env={})
    assert s.grid.resolution == 20.0
    assert s.grid.crs == "EPSG:6671"  # kept from the default file
    assert s.grid.chunk_size == 1536
    assert {"sample", "earth-search", "local"} <= set(s.sources)
    assert s.source("local").profile == "jaxa-earth"
    assert s.masking.scl_mask_classes == (3, 8)  # lists are replaced, not merged
    assert s.masking.dilation_px == 3
    assert s.analytics.change.threshold == -0.2
    assert s.analytics.change.index == "ndvi"


def test_yamasat_config_names_the_override_file(_in_tmp_cwd: Path) -> None:
    _write(_in_tmp_cwd / "conf" / "site.yaml", "grid: {chunk_size: 1024}\n")
    s = load_settings(env={"YAMASAT_CONFIG": "conf/site.yaml"})
    assert s.grid.chunk_size == 1024


def test_override_argument_wins_over_yamasat_config(tmp_path: Path) -> None:
    chosen = _write(tmp_path / "a.yaml", "grid: {chunk_size: 512}\n")
    s = load_settings(chosen, env={"YAMASAT_CONFIG": str(tmp_path / "missing.yaml")})
    assert s.grid.chunk_size == 512


def test_environment_overrides_values_lists_and_nulls(tmp_path: Path) -> None:
    override = _write(tmp_path / "o.yaml", "grid: {resolution: 20}\nboundaries: {path: b.gpkg}\n")
    env = {
        "YAMASAT_GRID__RESOLUTION": "30",  # env beats the override file
        "YAMASAT_MASKING__SCL_MASK_CLASSES": "[0, 3, 8, 9]",
        "yamasat_network__allowed_http_hosts": "[localhost:8080]",  # names are case-insensitive
        "YAMASAT_BOUNDARIES__PATH": "null",
        "YAMASAT_ANALYTICS__CHANGE__THRESHOLD": "0.25",
        "YAMASAT_ANALYTICS__CHANGE__DIRECTION": "both",
        "YAMASAT_SOURCES__EARTH_SEARCH__PROFILE": "planetary-computer",  # _ stands for -
        "YAMASAT_STORAGE__REGISTRY_URL": "sqlite:////var/lib/yamasat/registry.sqlite",
        "YAMASAT_CONFIG": str(override),
        "YAMASAT_PC_SUBSCRIPTION_KEY": "not-a-config-key",  # no '__': left alone
        "OTHER__THING": "x",
    }
    s = load_settings(env=env)
    assert s.grid.resolution == 30.0
    assert s.masking.scl_mask_classes == (0, 3, 8, 9)
    assert s.network.allowed_http_hosts == ("localhost:8080",)
    assert s.boundaries.path is None
    assert s.analytics.change.threshold == 0.25
    assert s.analytics.change.direction == "both"
    assert s.source("earth-search").profile == "planetary-computer"
    assert s.storage.registry_url == "sqlite:////var/lib/yamasat/registry.sqlite"


def test_environment_text_keys_keep_the_text_as_written() -> None:
    # YAML reads 35 and 2024 as numbers; these keys are text, so the text is kept
    env = {"YAMASAT_BOUNDARIES__PREFECTURE_CODE": "35", "YAMASAT_SAMPLE__ROOT": "2024"}
    s = load_settings(env=env)
    assert s.boundaries.prefecture_code == "35"
    assert s.sample.root == Path.cwd() / "2024"
    # quoted YAML text and null still mean text and null
    s = load_settings(env={"YAMASAT_GRID__CRS": "'EPSG:6670'", "YAMASAT_BOUNDARIES__PATH": "~"})
    assert s.grid.crs == "EPSG:6670" and s.boundaries.path is None


def test_environment_can_add_a_source() -> None:
    env = {
        "YAMASAT_SOURCES__MIRROR__KIND": "stac-api",
        "YAMASAT_SOURCES__MIRROR__LOCATION": "https://stac.example.org/v1",
        "YAMASAT_SOURCES__MIRROR__PROFILE": "earth-search",
    }
    assert load_settings(env=env).source("mirror").location == "https://stac.example.org/v1"


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("YAMASAT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("YAMASAT_GRID__CHUNK_SIZE", "4096")
    assert load_settings().grid.chunk_size == 4096


# --------------------------------------------------------------------------- paths


def test_relative_paths_resolve_per_layer(tmp_path: Path, _in_tmp_cwd: Path) -> None:
    site = tmp_path / "site"
    override = _write(
        site / "override.yaml",
        """
boundaries: {path: data/N03-35.geojson}
storage: {output_root: ../products}
network: {allowed_roots: [mirror, /abs/root]}
sources:
  mirror: {kind: static, location: mirror/catalog.json, profile: earth-search}
  remote: {kind: static, location: "https://example.org/catalog.json", profile: jaxa-earth}
""",
    )
    s = load_settings(override, env={"YAMASAT_SAMPLE__ROOT": "sample-here"})
    assert s.boundaries.path == site / "data" / "N03-35.geojson"
    assert s.storage.output_root == tmp_path / "products"
    assert s.network.allowed_roots == (site / "mirror", Path("/abs/root"))
    assert s.source("mirror").location == str(site / "mirror" / "catalog.json")
    assert s.source("remote").location == "https://example.org/catalog.json"
    assert s.sample.root == _in_tmp_cwd / "sample-here"  # env: against the working directory
    for p in (s.boundaries.path, s.storage.output_root, *s.network.allowed_roots, s.sample.root):
        assert p is not None and p.is_absolute()


def test_base_file_paths_resolve_against_the_working_directory(
    tmp_path: Path, _in_tmp_cwd: Path
) -> None:
    base = tmp_path / "elsewhere" / "base.yaml"
    text = REPO_CONFIG.read_text(encoding="utf-8").replace("path: null", "path: b/N03.zip")
    _write(base, text)
    s = load_settings(env={}, base=base)
    assert s.boundaries.path == _in_tmp_cwd / "b" / "N03.zip"


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    s = load_settings(env={"YAMASAT_STORAGE__OUTPUT_ROOT": "~/out"})
    assert s.storage.output_root == tmp_path / "home" / "out"


# --------------------------------------------------------------------------- rejections


def test_unknown_key_names_file_key_value_and_allowed_keys(tmp_path: Path) -> None:
    f = _write(tmp_path / "o.yaml", "network:\n  timeout: 10\n")
    msg = _error(f)
    assert str(f) in msg
    assert "network.timeout = 10" in msg
    assert "allowed keys of network: timeout_s, max_retries, backoff_s" in msg


def test_unknown_section_in_file_lists_sections(tmp_path: Path) -> None:
    f = _write(tmp_path / "o.yaml", "grids: {crs: 'EPSG:6671'}\n")
    msg = _error(f)
    assert str(f) in msg and "grids" in msg
    assert "allowed keys of the top level: grid, boundaries, sample, sources" in msg


@pytest.mark.parametrize(
    ("yaml_text", "key", "value", "expected"),
    [
        ("grid: {resolution: ten}", "grid.resolution", '"ten"', "valid number"),
        ("grid: {resolution: -10}", "grid.resolution", "-10", "greater than 0"),
        ("grid: {resolution: .nan}", "grid.resolution", "NaN", "finite"),
        ("grid: {chunk_size: 100}", "grid.chunk_size", "100", "greater than or equal to 256"),
        ("grid: {chunk_size: 9000}", "grid.chunk_size", "9000", "less than or equal to 8192"),
        ("grid: {chunk_size: true}", "grid.chunk_size", "true", "valid integer"),
        ("storage: {float_max_error: -0.1}", "storage.float_max_error", "-0.1", "greater than 0"),
        ("storage: {float_max_error: 0.5}", "storage.float_max_error", "0.5", "less than or equal"),
        ("grid: {chunk_size: 2048.5}", "grid.chunk_size", "2048.5", "valid integer"),
        ("grid: {crs: 'EPSG:4326'}", "grid.crs", '"EPSG:4326"', "not projected"),
        ("grid: {crs: 'not a crs'}", "grid.crs", '"not a crs"', "expected e.g. 'EPSG:6671'"),
        ("grid: {crs: 'EPSG:2230'}", "grid.crs", '"EPSG:2230"', "expected metres"),
        ("boundaries: {prefecture_code: 35}", "boundaries.prefecture_code", "35", "string"),
        ("boundaries: {prefecture_code: '48'}", "boundaries.prefecture_code", '"48"', "'01'..'47'"),
        ("boundaries: {path: 'https://x.org/n03.zip'}", "boundaries.path", "https", "local path"),
        ("sample: {seed: -1}", "sample.seed", "-1", "greater than or equal to 0"),
        ("sample: {bbox: [131.9, 33.9, 132.0]}", "sample.bbox", "[131.9, 33.9, 132.0]", "too few"),
        ("sample: {bbox: [131.9, 33.9, 132.0, 34, 5]}", "sample.bbox", "5]", "at most 4 items"),
        (
            "sources: {Bad_Name: {kind: static, location: x, profile: earth-search}}",
            "sources.Bad_Name",
            '"Bad_Name"',
            "slug",
        ),
        (
            "sources: {x: {kind: ftp, location: x, profile: earth-search}}",
            "sources.x.kind",
            '"ftp"',
            "'static', 'stac-api', 'jaxa' or 'by-family'",
        ),
        (
            "sources: {x: {kind: static, location: x, profile: usgs}}",
            "sources.x.profile",
            '"usgs"',
            "'earth-search', 'planetary-computer', 'jaxa-earth' or 'sample'",
        ),
        (
            "sources: {x: {kind: stac-api, location: api/v1, profile: earth-search}}",
            "sources.x.location",
            "api/v1",
            "http(s) URL",
        ),
        (
            "sources: {x: {kind: static, location: 'file:///etc/passwd', profile: jaxa-earth}}",
            "sources.x.location",
            '"file:///etc/passwd"',
            "http(s) URL",
        ),
        (
            "sources: {x: {kind: stac-api, location: 'http://10.0.0.1/v1', profile: earth-search}}",
            "sources.x.location",
            '"http://10.0.0.1/v1"',
            "network.allowed_http_hosts",
        ),
        (
            "sources: {x: {kind: static, location: y, profile: earth-search, token: z}}",
            "sources.x.token",
            "***",
            "allowed keys of sources.x: kind, location, profile",
        ),
        ("network: {timeout_s: 0}", "network.timeout_s", "0", "greater than 0"),
        ("network: {max_retries: -1}", "network.max_retries", "-1", "greater than or equal to 0"),
        ("network: {backoff_s: -0.5}", "network.backoff_s", "-0.5", "greater than or equal to 0"),
        (
            "network: {allowed_http_hosts: ['http://localhost']}",
            "network.allowed_http_hosts[0]",
            '"http://localhost"',
            "without scheme",
        ),
        ("network: {allowed_roots: 'mirror'}", "network.allowed_roots", "mirror", "valid tuple"),
        (
            "masking: {scl_mask_classes: [0, 12]}",
            "masking.scl_mask_classes[1]",
            "12",
            "less than or equal to 11",
        ),
        ("masking: {dilation_px: -1}", "masking.dilation_px", "-1", "greater than or equal to 0"),
        (
            "analytics: {min_valid_fraction: 0}",
            "analytics.min_valid_fraction",
            "0",
            "greater than 0",
        ),
        (
            "analytics: {min_valid_fraction: 1.5}",
            "analytics.min_valid_fraction",
            "1.5",
            "less than or equal to 1",
        ),
        ("analytics: {change: {index: ndsi}}", "analytics.change.index", '"ndsi"', "'ndvi'"),
        (
            "analytics: {change: {threshold: Otsu}}",
            "analytics.change.threshold",
            '"Otsu"',
            "'otsu' or a number",
        ),
        ("analytics: {change: {threshold: 3}}", "analytics.change.threshold", "3", "[-2, 2]"),
        (
            "analytics: {change: {direction: down}}",
            "analytics.change.direction",
            '"down"',
            "'decrease', 'increase' or 'both'",
        ),
        (
            "analytics: {change: {min_mapping_unit_px: 0}}",
            "analytics.change.min_mapping_unit_px",
            "0",
            "greater than or equal to 1",
        ),
        (
            "storage: {registry_url: registry.sqlite}",
            "storage.registry_url",
            '"registry.sqlite"',
            "SQLAlchemy URL",
        ),
        (
            "indicator: {target: {fy: 2021, value: 33}}",
            "indicator.target",
            '"fy": 2021',
            "must be after baseline fy 2022",
        ),
        (
            "indicator: {target: {fy: 2026, value: 20}}",
            "indicator.target",
            '"value": 20',
            "below baseline 25",
        ),
        (
            "indicator: {baseline: {fy: 2022, value: -1}}",
            "indicator.baseline.value",
            "-1",
            "greater than or equal to 0",
        ),
    ],
)
def test_bad_values_name_file_key_value_and_expectation(
    tmp_path: Path, yaml_text: str, key: str, value: str, expected: str
) -> None:
    f = _write(tmp_path / "override.yaml", yaml_text + "\n")
    msg = _error(f)
    assert f"{key} = " in msg, msg
    line = next(line for line in msg.splitlines() if f"{key} = " in line)
    assert value in line, msg
    assert str(f) in line, msg
    assert expected in line, msg


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ([33.88, 131.92, 33.98, 132.08], "latitude and longitude look swapped"),
        ([132.08, 33.88, 131.92, 33.98], "west 132.08 is not less than east 131.92: reversed"),
        ([131.92, 33.98, 132.08, 33.88], "south 33.98 is not less than north 33.88: reversed"),
        ([131.92, 33.88, 190.0, 33.98], "outside longitude [-180, 180]"),
        ([-200.0, -95.0, 10.0, 20.0], "outside longitude [-180, 180] or latitude [-90, 90]"),
    ],
)
def test_bad_bbox_says_what_is_wrong(tmp_path: Path, bbox: list[float], expected: str) -> None:
    f = _write(tmp_path / "o.yaml", f"sample: {{bbox: {bbox}}}\n")
    msg = _error(f)
    assert f"sample.bbox = {json.dumps(bbox)}" in msg
    assert str(f) in msg and expected in msg
    assert "expected [west, south, east, north]" in msg


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "o.yaml",
        "grid: {resolution: 0, chunk_size: 1}\nmasking: {dilation_px: x}\nstorage: {extra: 1}\n",
    )
    msg = _error(f, env={"YAMASAT_NETWORK__TIMEOUT_S": "-1", "YAMASAT_NOPE__X": "1"})
    assert "6 problems" in msg
    for key in ("grid.resolution", "grid.chunk_size", "masking.dilation_px", "storage.extra"):
        assert key in msg
    assert "network.timeout_s = -1 (environment variable YAMASAT_NETWORK__TIMEOUT_S)" in msg
    assert "environment variable YAMASAT_NOPE__X: unknown section 'nope'; sections: grid" in msg


def test_missing_key_is_reported_with_its_file(tmp_path: Path) -> None:
    base = _write(tmp_path / "base.yaml", "grid: {crs: 'EPSG:6671'}\n")
    msg = _error(base=base)
    assert f"grid.resolution (in {base}): missing" in msg
    assert "indicator" in msg and "missing" in msg


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"YAMASAT_GRID__RESOLUTION": "fast"}, 'grid.resolution = "fast" (environment variable'),
        ({"YAMASAT_GRID__RESOLUTON": "10"}, "grid.resoluton = 10 (environment variable"),
        ({"YAMASAT_GRIDS__CRS": "x"}, "YAMASAT_GRIDS__CRS: unknown section 'grids'"),
        ({"YAMASAT_GRID": "{crs: x}"}, "YAMASAT_GRID: set one key, as YAMASAT_GRID__<KEY>"),
        ({"YAMASAT_GRID____CRS": "x"}, "YAMASAT_GRID____CRS: an empty key"),
        ({"YAMASAT_GRID__CRS__CODE": "6671"}, "grid.crs is a value, not a section"),
        ({"YAMASAT_GRID__CHUNK_SIZE": "[1, 2"}, "YAMASAT_GRID__CHUNK_SIZE (line 1"),
        ({"YAMASAT_GRID__CRS": "EPSG:6671", "yamasat_grid__crs": "EPSG:6670"}, "both set grid.crs"),
        ({"YAMASAT_SAMPLE__BBOX": "[33.88, 131.92, 33.98, 132.08]"}, "look swapped"),
    ],
)
def test_bad_environment_variables_are_named(env: dict[str, str], expected: str) -> None:
    msg = _error(env=env)
    assert expected in msg
    assert any(name in msg for name in env)


def test_non_utf8_file_names_file_and_byte_position(tmp_path: Path) -> None:
    f = _write(tmp_path / "o.yaml", b'grid:\n  crs: "EPSG:6671"  # \x83v\x83\x8d\n')
    msg = _error(f)
    assert str(f) in msg
    assert "not UTF-8" in msg and "byte 0x83 at byte position 28 (line 2, column 23)" in msg


def test_non_utf8_default_file_is_refused_too(tmp_path: Path) -> None:
    base = _write(tmp_path / "base.yaml", b"grid: {crs: \xff}\n")
    assert f"config file {base} is not UTF-8" in _error(base=base)


@pytest.mark.parametrize(
    "payload",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        '!!python/object/apply:pathlib.Path.touch ["{marker}"]',
        '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    ],
)
def test_unsafe_yaml_tags_are_refused_and_nothing_runs(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "executed"
    f = _write(tmp_path / "o.yaml", "grid:\n  crs: " + payload.format(marker=marker) + "\n")
    msg = _error(f)
    assert str(f) in msg and "line 2" in msg and "!!python/object" in msg and "not allowed" in msg
    env_msg = _error(env={"YAMASAT_GRID__RESOLUTION": payload.format(marker=marker)})
    assert "YAMASAT_GRID__RESOLUTION" in env_msg and "not allowed" in env_msg
    assert not marker.exists()


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "o.yaml", "grid:\n  resolution: 10\n  chunk_size: 512\n  resolution: 20\n"
    )
    msg = _error(f)
    assert str(f) in msg and "duplicate key 'resolution'" in msg and "line 4" in msg
    f = _write(tmp_path / "p.yaml", "grid: {crs: 'EPSG:6671'}\ngrid: {chunk_size: 512}\n")
    assert "duplicate key 'grid' (first on line 1)" in _error(f)


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    # a key repeated through a merge (<<) is an override, not a duplicate
    f = _write(
        tmp_path / "o.yaml",
        "sources:\n"
        "  a: &a {kind: stac-api, profile: earth-search, location: 'https://a.example/v1'}\n"
        "  b: {<<: *a, location: 'https://b.example/v1'}\n",
    )
    s = load_settings(f, env={})
    assert s.source("b") == SourceConfig(
        kind="stac-api", location="https://b.example/v1", profile="earth-search"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty; expected a mapping of sections (grid, boundaries"),
        ("# only a comment\n", "is empty"),
        ("- grid\n- sample\n", "the top level is a list; expected a mapping"),
        ("just text\n", "the top level is a str"),
        ("grid: [\n", "invalid YAML"),
        ("1: x\n", "key 1 (int) in the top level: keys must be text"),
    ],
)
def test_empty_or_non_mapping_files_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    f = _write(tmp_path / "o.yaml", text)
    msg = _error(f)
    assert str(f) in msg and expected in msg


def test_missing_override_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert f"override config file {missing} does not exist" in _error(missing)
    msg = _error(env={"YAMASAT_CONFIG": str(missing)})
    assert f"(from YAMASAT_CONFIG) {missing} does not exist" in msg
    assert "config file" in _error(base=tmp_path / "no-base.yaml")


# --------------------------------------------------------------------------- frozen, secrets


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(ValidationError, match="frozen"):
        s.grid.resolution = 5.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        s.grid = s.grid  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        s.sources["new"] = s.source("sample")
    with pytest.raises(TypeError, match="read-only"):
        s.sources.pop("sample")
    assert s.source("sample")


def test_settings_hash_compare_and_pickle() -> None:
    a, b = load_settings(env={}), load_settings(env={})
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    c = load_settings(env={"YAMASAT_GRID__CHUNK_SIZE": "512"})
    assert c != a


def test_describe_is_json_safe_and_masks_secrets() -> None:
    url = "postgresql://yamasat:canary-pw@db.example/reg?sslpassword=canary-ssl&application=x"
    s = load_settings(env={"YAMASAT_STORAGE__REGISTRY_URL": url})
    shown = s.describe()
    text = json.dumps(shown)
    assert "canary" not in text
    assert shown["storage"]["registry_url"].startswith("postgresql://yamasat:***@db.example/reg?")
    assert "application=x" in shown["storage"]["registry_url"]
    assert shown["grid"]["crs"] == "EPSG:6671"
    assert isinstance(shown["sample"]["root"], str)
    assert "canary" not in repr(s)
    assert s.storage.registry_url == url  # the object itself keeps the real value


def test_describe_masks_values_of_secret_looking_keys() -> None:
    from yamasat.settings import masked  # the masking rule behind describe()

    secret = {"api_token": "t", "subscription_key": "k", "password": "p", "n": {"sig": 1}}
    plain = {"monkey": "ok", "keys": None, "mask": "ok"}
    shown = masked({**secret, **plain})
    assert shown == {
        "api_token": "***",
        "subscription_key": "***",
        "password": "***",
        "n": {"sig": "***"},
        **plain,
    }


def test_error_messages_do_not_show_secret_values() -> None:
    url = "postgresql://u:canary-pw@db.example/reg"
    msg = _error(env={"YAMASAT_STORAGE__REGISTRY_URL": url, "YAMASAT_GRID__RESOLUTION": "0"})
    assert "canary" not in msg


# --------------------------------------------------------------------------- dates


class _Campaign(BaseModel):
    day: ConfigDate
    period: DateRange


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"day": "2024-02-30", "period": "2024-01-01/2024-02-01"}, "day is out of range"),
        ({"day": "2024/04/01", "period": "2024-01-01/2024-02-01"}, "expected YYYY-MM-DD"),
        ({"day": "20240401", "period": "2024-01-01/2024-02-01"}, "expected YYYY-MM-DD"),
        ({"day": "2024-04-01T00:00", "period": "2024-01-01/2024-02-01"}, "expected YYYY-MM-DD"),
        ({"day": 20240401, "period": "2024-01-01/2024-02-01"}, "expected YYYY-MM-DD"),
        ({"day": "2024-04-01", "period": "2024-02-01/2024-01-01"}, "reversed"),
        (
            {"day": "2024-04-01", "period": {"start": "2024-02-01", "end": "2024-01-31"}},
            "end 2024-01-31 is before start 2024-02-01",
        ),
        ({"day": "2024-04-01", "period": "2024-01-01"}, "YYYY-MM-DD/YYYY-MM-DD"),
    ],
)
def test_dates_reject_malformed_and_reversed_values(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(expected)):
        _Campaign.model_validate(data)


def test_dates_accept_iso_days_and_yaml_text() -> None:
    from yamasat.settings import parse_yaml  # the loader the config files are read with

    data = parse_yaml("day: 2024-04-01\nperiod: {start: 2024-04-01, end: 2024-04-01}\n", "t")
    assert data["day"] == "2024-04-01"  # kept as text so that ConfigDate can explain errors
    c = _Campaign.model_validate(data)
    assert c.day == date(2024, 4, 1) and c.period.start == c.period.end == date(2024, 4, 1)
    assert parse_yaml("day: 2024-02-30\n", "t") == {"day": "2024-02-30"}  # not a crash


# --------------------------------------------------------------------------- bbox properties

_lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
_far_lon = st.floats(min_value=90.5, max_value=180, allow_nan=False) | st.floats(
    min_value=-180, max_value=-90.5, allow_nan=False
)


@given(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    _lat,
    _lat,
)
def test_valid_bboxes_round_trip(a: float, b: float, c: float, d: float) -> None:
    west, east, south, north = min(a, b), max(a, b), min(c, d), max(c, d)
    assume(west < east and south < north)
    sample = SampleConfig.model_validate(
        {"root": "/tmp/s", "seed": 1, "bbox": [west, south, east, north]}
    )
    assert sample.bbox == (west, south, east, north)
    again = SampleConfig.model_validate(sample.model_dump(mode="json"))
    assert again == sample


@given(_far_lon, _far_lon, _lat, _lat)
def test_swapped_bboxes_fail(a: float, b: float, c: float, d: float) -> None:
    # with a longitude beyond ±90 (Japan is at ~131°E), lat/lon order is unambiguous
    west, east, south, north = min(a, b), max(a, b), min(c, d), max(c, d)
    with pytest.raises(ValidationError, match="latitude and longitude look swapped"):
        SampleConfig.model_validate(
            {"root": "/tmp/s", "seed": 1, "bbox": [south, west, north, east]}
        )


def test_swapped_bbox_from_environment_is_named() -> None:
    msg = _error(env={"YAMASAT_SAMPLE__BBOX": "[33.88, 131.92, 33.98, 132.08]"})
    assert "sample.bbox = [33.88, 131.92, 33.98, 132.08]" in msg
    assert "environment variable YAMASAT_SAMPLE__BBOX" in msg and "swapped" in msg


def test_floats_in_exponent_form_are_numbers(tmp_path: Path, _in_tmp_cwd: Path) -> None:
    """``1e-4`` is a number in YAML 1.2 (PyYAML's YAML 1.1 would read it as text, which a
    strict float setting refuses); dates and words stay text."""
    f = tmp_path / "o.yaml"
    f.write_text("storage: {float_max_error: 5e-5}\n", encoding="utf-8")
    assert load_settings(f, env={}).storage.float_max_error == 5e-5
    s = load_settings(env={"YAMASAT_STORAGE__FLOAT_MAX_ERROR": "2E-4"})
    assert s.storage.float_max_error == 2e-4
    s = load_settings(env={"YAMASAT_STORAGE__FLOAT_MAX_ERROR": "null"})
    assert s.storage.float_max_error is None
