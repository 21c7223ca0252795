"""Layering the configuration: the default file, an override file and ``YAMASAT_*`` variables,
deep-merged with the origin of every value recorded, then validated into :class:`Settings`.

The rules are in the docstring of :mod:`yamasat.settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import ValidationError

from ..errors import ConfigError
from .fields import check_bucket, check_slug
from .models import Settings
from .problems import Provenance, dotted, problem
from .schema import ROOT, Slot, child, resolve_paths, unwrap
from .yaml_files import parse_yaml, read_yaml_file

__all__ = ["ENV_CONFIG", "ENV_PREFIX", "default_config_path", "load_settings"]

ENV_PREFIX = "YAMASAT_"
"""Prefix of the environment variables that set configuration keys."""
ENV_CONFIG = "YAMASAT_CONFIG"
"""The environment variable naming the override file."""
_ENV_SEP = "__"


# --------------------------------------------------------------------------- files


def _read_layer(path: Path, role: str) -> dict[str, Any]:
    """The mapping of sections in the file ``path``; ``role`` names the file in messages."""
    where = f"{role} {path}"
    content = read_yaml_file(path, where)
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
                f"{dotted(path) or 'the top level'}: keys must be text; quote it"
            )
        if isinstance(value, dict):
            _check_keys(value, (*path, key), where)


# --------------------------------------------------------------------------- layers


def _put(
    target: dict[str, Any], path: tuple[str, ...], value: Any, origin: str, prov: Provenance
) -> None:
    for stale in [p for p in prov if p[: len(path)] == path]:
        del prov[stale]
    target[path[-1]] = value
    _record(value, path, origin, prov)


def _record(value: Any, path: tuple[str, ...], origin: str, prov: Provenance) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _record(item, (*path, key), origin, prov)
    else:
        prov[path] = origin


def _merge(
    target: dict[str, Any],
    layer: dict[str, Any],
    origin: str,
    prov: Provenance,
    path: tuple[str, ...] = (),
) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, origin, prov, (*path, key))
        else:
            _put(target, (*path, key), value, origin, prov)


def _slug_keyed(slot: Slot | None) -> bool:
    """True for a mapping whose keys are slugs (sources, deployments) or bucket names (which
    hold no ``_``): a variable names them with ``_`` for ``-``. Free-form mappings (a
    deployment's ``parameters``) keep ``_``."""
    if slot is None or get_origin(tp := unwrap(slot)[0]) is not dict:
        return False
    key_type = get_args(tp)[0]
    return get_origin(key_type) is Annotated and any(
        getattr(m, "func", None) in (check_slug, check_bucket) for m in get_args(key_type)[1:]
    )


def _env_key_path(name: str) -> tuple[tuple[str, ...], Slot | None]:
    """The key path an environment variable sets, and its slot in the schema."""
    path: tuple[str, ...] = ()
    slot: Slot | None = ROOT
    for part in name[len(ENV_PREFIX) :].split(_ENV_SEP):
        key = part.lower().replace("_", "-") if _slug_keyed(slot) else part.lower()
        path, slot = (*path, key), child(slot, key)
    return path, slot


def _apply_env(
    env: Mapping[str, str],
    cwd: Path,
    merged: dict[str, Any],
    prov: Provenance,
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
            problems.append(f"{where} and {set_by[path]} both set {dotted(path)}")
            continue
        set_by[path] = where
        try:
            value = parse_yaml(env[name], where)
        except ConfigError as e:
            problems.append(f"{e} (quote the value if it is meant as text)")
            continue
        text_key = slot is not None and unwrap(slot)[0] in (str, Path)
        if text_key and value is not None and not isinstance(value, str):
            value = env[name]
        node = merged
        for depth, key in enumerate(path[:-1]):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                problems.append(f"{where}: {dotted(path[: depth + 1])} is a value, not a section")
                break
        else:
            _put(node, path, resolve_paths(value, cwd, slot), where, prov)


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
    """Read, merge and validate the configuration layers (see :mod:`yamasat.settings`).

    ``override`` defaults to ``$YAMASAT_CONFIG``, ``env`` to ``os.environ``, ``base`` to
    :func:`default_config_path`. Raises :class:`ConfigError` listing every problem, each with
    its file or environment variable, dotted key and value; never returns a partial result.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    cwd = Path.cwd()
    merged: dict[str, Any] = {}
    prov: Provenance = {}

    base_path = Path(os.path.abspath(base if base is not None else default_config_path()))
    layer = _read_layer(base_path, "config file")
    _merge(merged, resolve_paths(layer, cwd), f"in {base_path}", prov)

    role = "override config file"
    if override is None:
        named = next((v for k, v in environ.items() if k.upper() == ENV_CONFIG and v.strip()), None)
        if named is not None:
            override, role = Path(named.strip()), f"override config file (from {ENV_CONFIG})"
    if override is not None:
        path = Path(os.path.abspath(Path(override).expanduser()))
        layer = _read_layer(path, role)
        _merge(merged, resolve_paths(layer, path.parent), f"in {path}", prov)

    problems: list[str] = []
    _apply_env(environ, cwd, merged, prov, problems)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as e:
        problems.extend(problem(err, prov) for err in e.errors())
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid configuration ({count}); fix them all and retry:\n{listing}")
    return settings
