"""The sections about reaching data: sources, object-store buckets, and the network rules."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from .fields import (
    RELATIVE,
    ConfigPath,
    Float,
    Int,
    Text,
    check_bucket,
    check_host_entry,
    check_slug,
    check_url_template,
    read_only,
    to_abs_path,
)
from .redaction import URL_RE
from .section import Section

__all__ = ["FamilyName", "NetworkConfig", "ObjectStoreConfig", "SourceConfig"]


FamilyName = Literal["s2", "s1", "dem", "rainfall"]


class SourceConfig(Section):
    """A configured data source."""

    kind: Literal["static", "stac-api", "jaxa", "by-family"] = Field(
        description="'static': a catalog.json walked link by link; 'stac-api': a /search "
        "endpoint; 'jaxa': the JAXA Earth API's static catalog, walked only where the AOI and "
        "period lie; 'by-family': each data family from another configured source (families)"
    )
    location: Annotated[Text | None, RELATIVE] = Field(
        default=None,
        description="http(s) URL of the API root or catalog.json, or a local catalog.json path "
        "(not for by-family)",
    )
    profile: Literal["earth-search", "planetary-computer", "jaxa-earth", "sample"] | None = Field(
        default=None,
        description="asset layout of the provider, mapping its asset keys to our band names; "
        "null: found per collection from its id and asset keys",
    )
    families: Annotated[
        dict[FamilyName, Annotated[str, AfterValidator(check_slug)]], AfterValidator(read_only)
    ] = Field(
        default_factory=dict,
        validate_default=True,
        description="by-family only: the configured source of each data family",
    )

    @field_validator("location")
    @classmethod
    def _http_url_or_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if URL_RE.match(text):
            parts = urlsplit(text)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise ValueError("expected an http(s) URL with a host, or a local path")
            return text
        if info.data.get("kind") == "stac-api":
            raise ValueError("a stac-api source needs an http(s) URL such as 'https://host/v1'")
        return str(to_abs_path(text))

    @model_validator(mode="after")
    def _kind_fields(self) -> SourceConfig:
        if self.kind == "by-family":
            if not self.families:
                raise ValueError("a by-family source names a source per family in 'families'")
            if self.location is not None or self.profile is not None:
                raise ValueError("a by-family source takes 'families', not location or profile")
        else:
            if self.location is None:
                raise ValueError(f"a {self.kind} source needs a 'location'")
            if self.families:
                raise ValueError("'families' is only for a source of kind by-family")
        return self


class ObjectStoreConfig(Section):
    """An object-store bucket named by ``s3://bucket/key`` asset hrefs."""

    access: Literal["public", "requester-pays"] = Field(
        description="'public': read anonymously over the https endpoint; 'requester-pays': "
        "refused (reads need AWS credentials and are billed to the reader)"
    )
    https: Text | None = Field(
        default=None,
        description="URL template of the bucket's https endpoint with {key} (and optionally "
        "{bucket}); required for a public bucket",
    )
    serves: Text | None = Field(
        default=None,
        description="a source serving the same data over https, named when the bucket is refused",
    )

    @model_validator(mode="after")
    def _template(self) -> ObjectStoreConfig:
        check_url_template(self.https, public=self.access == "public")
        return self


class NetworkConfig(Section):
    """Timeouts, retries and the allow lists of the href policy."""

    timeout_s: Float = Field(gt=0, description="connect/read timeout of each request, seconds")
    max_retries: Int = Field(ge=0, description="retries on connection errors, 429 and 5xx")
    backoff_s: Float = Field(ge=0, description="first backoff, doubled each retry, seconds")
    allowed_http_hosts: tuple[Annotated[Text, AfterValidator(check_host_entry)], ...] = Field(
        description="hosts ('host' or 'host:port') that plain http and private addresses may reach"
    )
    allowed_roots: tuple[ConfigPath, ...] = Field(
        description="local folders assets may be read from (absolute)"
    )
    object_stores: Annotated[
        dict[Annotated[str, AfterValidator(check_bucket)], ObjectStoreConfig],
        AfterValidator(read_only),
    ] = Field(
        default_factory=dict,
        description="buckets s3:// hrefs may name: public ones are read over https, others refused",
    )
