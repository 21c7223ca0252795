"""Where each data family of a run comes from.

No single public archive serves every family well: Sentinel-2 L2A from Earth Search (or
Planetary Computer), Sentinel-1 RTC γ⁰ from Planetary Computer, the Copernicus DEM from Earth
Search's public bucket, rainfall from JAXA Earth. A run names one source (``--source``) for
every family, or a configured source of kind ``by-family`` that names one source per family;
``--s2-source``, ``--s1-source``, ``--dem-source`` (flow parameter ``family_sources``) override
single families. :func:`resolve_sources` checks every name before any request is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ParameterError, SourceError
from .profiles import FAMILIES
from .search import Source, resolve_source

__all__ = ["SourceSet", "resolve_sources"]


@dataclass(frozen=True)
class SourceSet:
    """The sources of a run, one per data family."""

    name: str
    """what the run was asked to read (``--source``)"""
    default: Source | None
    """the source of every family not named in ``by_family`` (None for a by-family source)"""
    by_family: Mapping[str, Source] = field(default_factory=dict)
    """sources of single families (a by-family source's members, and overrides)"""

    def of(self, family: str) -> Source:
        """The source of ``family``; SourceError naming what to configure when there is none."""
        if family in self.by_family:
            return self.by_family[family]
        if self.default is not None:
            return self.default
        raise SourceError(
            f"source {self.name!r} names no source for data family {family!r}; add "
            f"sources.{self.name}.families.{family} to the config or pass --{family}-source"
        )

    def all(self) -> list[Source]:
        """Every distinct source of the run."""
        found = [*self.by_family.values(), *([self.default] if self.default else [])]
        return list({(s.name, s.location): s for s in found}.values())

    @property
    def location(self) -> str:
        """Where the data come from: the one source's location, else each family's."""
        if not self.by_family and self.default is not None:
            return self.default.location
        parts = [f"{f}: {s.location}" for f, s in sorted(self.by_family.items())]
        if self.default is not None:
            parts.append(f"other families: {self.default.location}")
        return "; ".join(parts)

    @property
    def label(self) -> str:
        """How products and summaries name the sources: the name alone when one source
        serves every family, else the name and each family's source."""
        if not self.by_family:
            return self.name
        parts = ", ".join(f"{f}: {s.name}" for f, s in sorted(self.by_family.items()))
        return f"{self.name} ({parts})"


def resolve_sources(
    spec: str,
    *,
    configured: Mapping[str, Any] | None = None,
    profile: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> SourceSet:
    """The sources of a run: ``spec`` (a configured name, URL or catalog path; a configured
    ``by-family`` source names one per family) with ``overrides`` (family -> source spec).

    ``profile`` forces the layout of the sources ``spec`` names, not of overrides. Raises
    :class:`ParameterError` for an unknown family and :class:`SourceError` for an unknown or
    missing source, before any request is sent.
    """
    configured = dict(configured or {})
    bad = sorted(set(overrides or {}) - set(FAMILIES))
    if bad:
        raise ParameterError(
            f"unknown data famil{'ies' if len(bad) > 1 else 'y'} {', '.join(map(repr, bad))} "
            f"in family_sources; known: {', '.join(FAMILIES)}"
        )
    text = spec.strip()
    cfg = configured.get(text)
    by_family: dict[str, Source] = {}
    default: Source | None = None
    if cfg is not None and cfg.kind == "by-family":
        for family, member in cfg.families.items():
            by_family[family] = resolve_source(member, configured=configured, profile=profile)
    else:
        default = resolve_source(text, configured=configured, profile=profile)
    for family, member in (overrides or {}).items():
        if member:
            by_family[family] = resolve_source(member, configured=configured)
    return SourceSet(text, default, by_family)
