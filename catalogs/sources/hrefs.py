"""Security policy for asset hrefs, and safe file names from item ids.

STAC items come from servers we do not control, so every asset href is untrusted input
(DESIGN.md section 6, FAULTS.md section C). :func:`check_href` decides, without any I/O and
without DNS, whether an href may be handed to GDAL or pystac:

* ``https`` to public hosts is allowed;
* ``http`` only to hosts listed in :attr:`HrefPolicy.allowed_http_hosts`;
* IP literals in private, loopback, link-local, reserved or multicast ranges (and
  ``localhost``) are refused unless the host is listed in ``allowed_http_hosts``;
* local paths and ``file://`` URLs only inside :attr:`HrefPolicy.allowed_roots`, after
  ``..`` and symlinks are resolved;
* GDAL-special strings (``/vsi*`` prefixes, ``MEM:::``, inline XML, ``.vrt`` files that can
  point anywhere) and every other scheme (``s3://``, ``ftp://``, ``data:``...) are refused.

``s3://`` hrefs are turned into URLs first, by :func:`object_store_url`: a bucket declared
public in config (``network.object_stores``) is read over its HTTPS endpoint, and the policy
then decides on that URL; requester-pays and undeclared buckets are refused with the name of
a source that serves the same family over HTTPS.

Limits: host names are not resolved, so a public name that resolves to a private address
(DNS rebinding) passes this check; readers should also keep redirects and GDAL's own
``CPL_VSIL_CURL_ALLOWED_EXTENSIONS`` tight. Error messages never repeat a query string or
user-info part of an href, because those may carry secrets (SAS tokens).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit
from urllib.request import url2pathname

import pystac.utils

from ...errors import ConfigError, HrefPolicyError
from ...settings.fields import check_url_template

__all__ = [
    "FAMILY_SOURCES",
    "HrefPolicy",
    "ObjectStore",
    "check_href",
    "object_store_url",
    "resolve_href",
    "safe_name",
]

_HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: host names that name cloud metadata services or loopback without being IP literals
_INTERNAL_HOSTNAMES = frozenset({"localhost", "metadata", "metadata.google.internal"})
_HOSTNAME_RE = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_NUMERIC_LABEL_RE = re.compile(r"0x[0-9a-f]*|[0-9]+")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_UNSAFE_RUN_RE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}
)
_HASH_LEN = 16
_MESSAGE_HREF_MAX = 200
_VRT_ADVICE = "VRT files can point GDAL at any file or URL and are not accepted from STAC"

#: sources that serve each data family over HTTPS, named when an object-store href is refused
FAMILY_SOURCES: dict[str, str] = {
    "s1": "planetary-computer (sentinel-1-rtc)",
    "s2": "earth-search (sentinel-2-c1-l2a) or planetary-computer (sentinel-2-l2a)",
    "dem": "earth-search (cop-dem-glo-30) or planetary-computer (cop-dem-glo-30)",
}


@dataclass(frozen=True)
class ObjectStore:
    """An object-store bucket that STAC items may name with ``s3://bucket/key`` hrefs."""

    bucket: str
    access: str
    """``public`` (anonymous reads over ``https``) or ``requester-pays`` (refused)."""
    https: str | None = None
    """URL template of the bucket's HTTPS endpoint with ``{key}`` (and optionally
    ``{bucket}``), e.g. ``https://copernicus-dem-30m.s3.amazonaws.com/{key}``."""
    serves: str | None = None
    """A source serving the same data over HTTPS, named when the bucket is refused."""

    def __post_init__(self) -> None:
        if self.access not in ("public", "requester-pays"):
            raise ConfigError(
                f"network.object_stores.{self.bucket}: access {self.access!r} is neither "
                "'public' nor 'requester-pays'"
            )
        if self.access == "public":
            check_store_template(self.bucket, self.https)


@dataclass(frozen=True)
class HrefPolicy:
    """Where asset hrefs may point. The default policy allows public ``https`` only."""

    allowed_roots: tuple[Path, ...] = ()
    """Local folders assets may be read from (config ``network.allowed_roots``); a path or
    ``file://`` URL is allowed when it resolves, symlinks and ``..`` included, to a file
    inside one of them."""

    allowed_http_hosts: tuple[str, ...] = ()
    """Hosts, as ``host`` (any port) or ``host:port``, for which plain ``http`` and private
    or loopback addresses are allowed (config ``network.allowed_http_hosts``). IPv6
    literals are written in brackets, ``[::1]:8080``, or bare without a port, ``::1``."""

    object_stores: tuple[ObjectStore, ...] = ()
    """Buckets ``s3://`` hrefs may name (config ``network.object_stores``); see
    :func:`object_store_url`. :func:`check_href` itself refuses every ``s3://`` href."""

    def __post_init__(self) -> None:
        roots = tuple(Path(r) for r in self.allowed_roots)
        hosts = tuple(_normalise_host_entry(h) for h in self.allowed_http_hosts)
        object.__setattr__(self, "allowed_roots", roots)
        object.__setattr__(self, "allowed_http_hosts", hosts)

    def allows_host(self, host: str, port: int) -> bool:
        """True when ``host`` (lower-case, IPv6 without brackets) on ``port`` is listed."""
        shown = f"[{host}]" if ":" in host else host
        return any(entry in (host, shown, f"{shown}:{port}") for entry in self.allowed_http_hosts)


def check_href(
    href: str, policy: HrefPolicy, *, item_id: str | None = None, asset: str | None = None
) -> str:
    """Return ``href`` normalised if ``policy`` allows it, else raise :class:`HrefPolicyError`.

    URLs come back stripped of surrounding whitespace and otherwise unchanged; local paths
    and ``file://`` URLs come back as absolute, resolved paths (relative paths are taken
    from the working directory: resolve them against the item with :func:`resolve_href`
    first). The error names the item, the asset, the href (without query string) and the
    rule broken, and says what to do.
    """
    refuse = _Refuser(href, item_id, asset)
    text = href.strip() if isinstance(href, str) else ""
    if not text:
        raise refuse("empty", "the asset has no href; fix the STAC item")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise refuse("control-character", "hrefs must not contain control characters")
    lowered = text.lower()
    if lowered.startswith("/vsi"):
        raise refuse(
            "gdal-vsi",
            "GDAL virtual file systems are not accepted from STAC; give the plain "
            "https URL or local path instead",
        )
    if lowered.startswith("<"):
        raise refuse("inline-xml", "inline XML datasets are not accepted from STAC")
    if lowered.startswith("mem:"):
        raise refuse("gdal-mem", "GDAL in-memory datasets are not accepted from STAC")

    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme in _HTTP_SCHEMES:
            _ = parts.hostname  # raises ValueError on a malformed IPv6 literal
    except ValueError as e:
        raise refuse("malformed", f"the href cannot be parsed as a URL or path ({e})") from None
    if scheme in _HTTP_SCHEMES:
        _check_url(parts, scheme, policy, refuse)
        if parts.path.lower().endswith(".vrt"):
            raise refuse("gdal-vrt", _VRT_ADVICE)
        return text
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise refuse(
                "file-remote-host",
                "file:// URLs naming another host are not accepted; mount the share and "
                "add the folder to network.allowed_roots",
            )
        path = Path(url2pathname(parts.path))
        return _check_local(path, policy, refuse, kind="file:// URL")
    if scheme:
        raise refuse(
            "scheme",
            f"scheme {scheme!r} is not supported; only https (http for hosts in "
            "network.allowed_http_hosts) and local paths inside network.allowed_roots "
            "are; use the provider's https URL",
        )
    return _check_local(Path(text), policy, refuse, kind="local path")


def object_store_url(
    href: str,
    stores: Iterable[ObjectStore],
    *,
    family: str | None = None,
    item_id: str | None = None,
    asset: str | None = None,
) -> str:
    """The URL to read an ``s3://bucket/key`` href from; any other href comes back unchanged.

    A bucket declared ``public`` in ``stores`` gives its HTTPS endpoint template filled with
    the key (and bucket). A requester-pays bucket, or one not declared, raises
    :class:`HrefPolicyError` naming the bucket and a source that serves the same data (the
    store's ``serves``, else :data:`FAMILY_SOURCES` for ``family``). No I/O. The result still
    has to pass :func:`check_href`: the policy decides on the rewritten URL.
    """
    text = href.strip() if isinstance(href, str) else ""
    if not text.lower().startswith("s3://"):
        return href
    refuse = _Refuser(href, item_id, asset)
    parts = urlsplit(text)
    bucket, key = parts.netloc.lower(), parts.path.lstrip("/")
    if not bucket or not key or "@" in bucket:
        raise refuse("object-store", "an s3:// href needs a bucket and a key; fix the STAC item")
    store = next((s for s in stores if s.bucket.lower() == bucket), None)
    if store is None:
        raise refuse(
            "object-store-unknown",
            f"bucket {bucket!r} is not declared in network.object_stores; "
            f"{_instead(None, family)}, or declare the bucket there if it is public",
        )
    if store.access != "public" or not store.https:
        raise refuse(
            "object-store-requester-pays",
            f"bucket {bucket!r} is requester-pays: reading it needs AWS credentials and is "
            f"billed to the reader; {_instead(store.serves, family)}",
        )
    url = store.https.format(key=key, bucket=store.bucket)
    return f"{url}?{parts.query}" if parts.query else url


def check_store_template(bucket: str, template: str | None) -> str | None:
    """``template`` if it is a valid https endpoint of a public bucket (see
    :func:`yamasat.settings.fields.check_url_template`); else :class:`ConfigError` naming
    ``network.object_stores.<bucket>``."""
    try:
        return check_url_template(template, public=True)
    except ValueError as e:
        raise ConfigError(f"network.object_stores.{bucket}: {e}") from None


def _instead(serves: str | None, family: str | None) -> str:
    hint = serves or (FAMILY_SOURCES.get(family) if family else None)
    if hint:
        return f"use {hint}"
    return "use a source that serves this data over https"


def resolve_href(href: str, base: str) -> str:
    """Resolve an asset ``href`` relative to the item's self href ``base`` (URL or path).

    Absolute hrefs (any scheme, absolute paths, GDAL ``/vsi`` strings) come back unchanged;
    relative ones are joined to the folder of ``base`` with ``..`` collapsed, so that
    :func:`check_href` sees where they really point. Uses :func:`pystac.utils.make_absolute_href`.
    """
    return pystac.utils.make_absolute_href(href.strip(), base.strip(), start_is_dir=False)


def safe_name(item_id: str, *, max_len: int = 120) -> str:
    """Turn an item id into a file name made of ``[A-Za-z0-9._-]``.

    An id that is already safe (no leading ``.`` or ``-``, no ``..`` or ``--``, not a
    Windows device name, at most ``max_len`` characters) is returned unchanged. Any other
    id becomes a readable ASCII prefix, ``--`` and the first 16 hex digits of the SHA-256
    of the id, at most ``max_len`` characters in all. Unchanged names never contain ``--``
    and hashed names always do, so two different ids give two different names unless their
    hashes collide. Names differing only in case do collide on case-insensitive disks.
    """
    if max_len < _HASH_LEN + 8:
        raise ValueError(f"max_len must be at least {_HASH_LEN + 8}, got {max_len}")
    if _is_safe_as_is(item_id, max_len):
        return item_id
    digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    ascii_id = unicodedata.normalize("NFKD", item_id).encode("ascii", "ignore").decode()
    prefix = _UNSAFE_RUN_RE.sub("_", ascii_id)
    prefix = re.sub(r"\.{2,}", "_", prefix)
    prefix = re.sub(r"-{2,}", "-", prefix).strip("._-")
    prefix = prefix[: max_len - _HASH_LEN - 2].rstrip("._-") or "item"
    return f"{prefix}--{digest}"


# ---------------------------------------------------------------------------- internals


class _Refuser:
    """Builds the :class:`HrefPolicyError` for one href, naming item, asset and rule."""

    def __init__(self, href: object, item_id: str | None, asset: str | None) -> None:
        self.href = href
        self.item_id = item_id
        self.asset = asset

    def __call__(self, rule: str, advice: str) -> HrefPolicyError:
        where = ", ".join(
            f"{label} {value!r}"
            for label, value in (("item", self.item_id), ("asset", self.asset))
            if value is not None
        )
        subject = f"asset href {_redact(self.href)!r}" + (f" ({where})" if where else "")
        return HrefPolicyError(f"{subject} refused by rule {rule!r}: {advice}")


def _redact(href: object) -> str:
    """The href as it may appear in logs and errors: no query, no user-info, bounded length."""
    if not isinstance(href, str):
        return repr(href)
    text = href.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme:
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = "?<redacted>" if parts.query else ""
        text = f"{parts.scheme}://{netloc}{parts.path}{query}" if netloc or parts.query else text
    if len(text) > _MESSAGE_HREF_MAX:
        text = text[: _MESSAGE_HREF_MAX - 3] + "..."
    return text


def _check_url(parts: SplitResult, scheme: str, policy: HrefPolicy, refuse: _Refuser) -> None:
    netloc = parts.netloc
    if "@" in netloc or "\\" in netloc:
        raise refuse(
            "userinfo",
            "credentials or backslashes in the URL authority are not accepted; store "
            "unsigned hrefs and give credentials through the source's signing settings",
        )
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as e:
        raise refuse("bad-port", f"the port is not valid ({e})") from None
    raw_host = parts.hostname or ""
    host = _canonical_host(raw_host)
    if host is None:
        raise refuse("bad-host", "the host name is missing or malformed")
    if policy.allows_host(host, port):
        return
    address = _ip_literal(host)
    if address is not None and not _is_public(address):
        raise refuse(
            "private-address",
            f"{host} is a private, loopback, link-local or reserved address; if this "
            "server is trusted, add the host to network.allowed_http_hosts",
        )
    if address is None and (
        host.rstrip(".") in _INTERNAL_HOSTNAMES or host.rstrip(".").endswith(".localhost")
    ):
        raise refuse(
            "private-address",
            f"{host} names this machine or a metadata service; if this server is trusted, "
            "add the host to network.allowed_http_hosts",
        )
    if address is None and _NUMERIC_LABEL_RE.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        raise refuse("bad-host", f"{host} is neither an IP address nor a host name")
    if scheme == "http":
        raise refuse(
            "plain-http",
            f"plain http to {host} is not allowed; use https, or add the host to "
            "network.allowed_http_hosts",
        )


def _canonical_host(raw: str) -> str | None:
    """Lower-case ASCII host (IDNA-encoded), or None when it cannot be a host."""
    if not raw:
        return None
    if ":" in raw:  # IPv6 literal; urlsplit already removed the brackets
        return raw.lower()
    try:
        host = raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return host if _HOSTNAME_RE.fullmatch(host.rstrip(".")) else None


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, including the legacy IPv4 forms curl accepts
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``); None for a host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(labels) <= 4 and all(_NUMERIC_LABEL_RE.fullmatch(label) for label in labels):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            # an out-of-range numeric host is not a name either: treat it as reserved
            return ipaddress.IPv4Address("240.0.0.0")
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and not _is_public(embedded):
            return False
        if address.scope_id:
            return False
    return address.is_global and not address.is_multicast


def _check_local(path: Path, policy: HrefPolicy, refuse: _Refuser, *, kind: str) -> str:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as e:
        raise refuse("bad-path", f"the {kind} cannot be resolved ({e})") from None
    if resolved.suffix.lower() == ".vrt":
        raise refuse("gdal-vrt", _VRT_ADVICE)
    for root in policy.allowed_roots:
        try:
            root_resolved = root.expanduser().resolve()
        except (OSError, RuntimeError):
            continue
        if resolved.is_relative_to(root_resolved):
            return str(resolved)
    if not policy.allowed_roots:
        advice = "no local folders are allowed; add the folder to network.allowed_roots"
    else:
        roots = ", ".join(str(r) for r in policy.allowed_roots)
        advice = (
            f"it resolves to {resolved}, outside the allowed roots ({roots}); "
            "add the folder to network.allowed_roots"
        )
    raise refuse("outside-roots", f"{kind}: {advice}")


def _normalise_host_entry(entry: object) -> str:
    if not isinstance(entry, str) or not entry.strip():
        raise ConfigError(
            f"network.allowed_http_hosts: {entry!r} is not a host; write 'host' or 'host:port'"
        )
    text = entry.strip().lower()
    if "/" in text or "@" in text:
        raise ConfigError(
            f"network.allowed_http_hosts: {entry!r} is not a host; write 'host' or "
            "'host:port' without scheme or path"
        )
    return text


def _is_safe_as_is(name: str, max_len: int) -> bool:
    return (
        len(name) <= max_len
        and _SAFE_NAME_RE.fullmatch(name) is not None
        and ".." not in name
        and "--" not in name
        and not name.endswith(".")
        and name.split(".", 1)[0].upper() not in _WINDOWS_RESERVED
    )
