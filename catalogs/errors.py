"""The one error hierarchy of yamasat.

Every error a user can meet is a :class:`YamasatError`; messages say what was wrong and
what to do. Library errors (rasterio, pystac, requests) are re-raised as one of these with
``raise ... from e`` so the cause stays visible.
"""

from __future__ import annotations

__all__ = [
    "AOIError",
    "BoundariesMissingError",
    "ConfigError",
    "EvidenceError",
    "HrefPolicyError",
    "InputDateError",
    "LoadError",
    "NoDataError",
    "OutputExistsError",
    "RegistryBusyError",
    "RegistryError",
    "RegistryUnavailableError",
    "SampleArchiveError",
    "SolutionExistsError",
    "SourceError",
    "StatusTransitionError",
    "UnknownProductError",
    "UnknownSolutionError",
    "YamasatError",
]


class YamasatError(Exception):
    """Base class of every error yamasat raises on purpose."""

    #: process exit status the CLI uses for this kind of error
    exit_code: int = 2


class ConfigError(YamasatError):
    """A configuration file or environment variable is invalid (names file, key and value)."""


class AOIError(YamasatError):
    """An area of interest could not be resolved (unknown name, bad bbox, bad GeoJSON)."""


class BoundariesMissingError(AOIError):
    """Municipal boundaries are needed but the configured boundaries file is not available."""


class InputDateError(YamasatError):
    """A date or period given by the user is malformed, reversed or overlapping."""


class SourceError(YamasatError):
    """A data source is unknown, unreachable or answered with something unusable."""


class HrefPolicyError(SourceError):
    """An asset href was refused by the security policy (scheme, host or path)."""


class NoDataError(YamasatError):
    """A search or load found no data for the AOI and period (outcome ``no_data``)."""

    exit_code = 3


class LoadError(YamasatError):
    """Raster data could not be read (names the URL or item and asset)."""


class SampleArchiveError(YamasatError):
    """The embedded sample archive could not be built or is incomplete."""


class OutputExistsError(YamasatError):
    """An output already exists and overwriting was not asked for."""


class RegistryError(YamasatError):
    """The solutions registry refused an operation (names the record and what to do)."""


class RegistryUnavailableError(RegistryError):
    """The registry cannot be opened: unreadable, corrupted, not a database, on a network
    filesystem, or the server is unreachable. Nothing stored is replaced or changed."""


class RegistryBusyError(RegistryError):
    """The registry stayed locked by other writers longer than the configured wait."""


class UnknownSolutionError(RegistryError):
    """No solution has this id (the message lists close matches)."""


class UnknownProductError(RegistryError):
    """No product with this id is registered (the message lists close matches)."""


class SolutionExistsError(RegistryError):
    """A solution with this id, or this organisation and normalised name, already exists."""


class StatusTransitionError(RegistryError):
    """A status change that the lifecycle does not allow (names the allowed ones)."""


class EvidenceError(RegistryError):
    """A product was refused as evidence: not published, file missing, checksum differs."""
