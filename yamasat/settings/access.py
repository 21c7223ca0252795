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
    check_url_template,
    read_only,
    to_abs_path,
)
from .redaction import URL_RE
from .section import Section

__all__ = ["NetworkConfig", "ObjectStoreConfig", "SourceConfig"]


class SourceConfig(Section):
    """A configured data source."""

    kind: Literal["static", "stac-api"] = Field(
        description="'static': a catalog.json walked link by link; 'stac-api': a /search endpoint"
    )
    location: Annotated[Text, RELATIVE] = Field(
        description="http(s) URL of the API root or catalog.json, or a local catalog.json path"
    )
    profile: Literal["earth-search", "planetary-computer", "jaxa-earth"] = Field(
        description="asset layout of the provider, mapping its asset keys to our band names"
    )

    @field_validator("location")
    @classmethod
    def _http_url_or_path(cls, value: str, info: ValidationInfo) -> str:
        text = value.strip()
        if URL_RE.match(text):
            parts = urlsplit(text)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise ValueError("expected an http(s) URL with a host, or a local path")
            return text
        if info.data.get("kind") == "stac-api":
            raise ValueError("a stac-api source needs an http(s) URL such as 'https://host/v1'")
        return str(to_abs_path(text))


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
