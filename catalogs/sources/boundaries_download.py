"""Download the official MLIT N03 boundaries of the prefecture (``yamasat boundaries fetch``).

The zip is streamed to a temporary file beside its destination, with the network policy's
timeouts and retries, then checked by reading it as N03 boundaries of prefecture 35; only a
file that passes replaces (atomically) what is there. A download that fails or is not N03
data leaves nothing behind and says why.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

from ...errors import BoundariesMissingError, SourceError
from ..extent.boundaries import Boundaries, load_boundaries
from ..extent.municipalities import PREFECTURE
from .hrefs import HrefPolicy, check_href
from .network import NetworkPolicy, retrying_session

__all__ = ["N03_URL", "FetchResult", "fetch_boundaries", "n03_url"]

#: MLIT's download address of the N03 zip of one prefecture, for the edition of 1 January YEAR
N03_URL = "https://nlftp.mlit.go.jp/ksj/gml/data/N03/N03-{year}/N03-{year}0101_{pref}_GML.zip"
#: refuse anything larger (the prefecture's zip is a few MB to a few tens of MB)
MAX_BYTES = 512 * 1024 * 1024
#: redirects followed, each checked by the href policy first
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchResult:
    """Where the boundaries are, and whether this call downloaded them."""

    path: Path
    downloaded: bool
    boundaries: Boundaries


def n03_url(year: int, prefecture_code: str = PREFECTURE.code) -> str:
    """The official download address of the N03 zip of ``year`` (edition of 1 January)."""
    return N03_URL.format(year=year, pref=prefecture_code)


def fetch_boundaries(
    dest_dir: Path,
    *,
    year: int,
    url: str | None = None,
    network: NetworkPolicy | None = None,
    href_policy: HrefPolicy | None = None,
    force: bool = False,
    prefecture_code: str = PREFECTURE.code,
) -> FetchResult:
    """Download the N03 zip into ``dest_dir`` (kept if already there, unless ``force``)."""
    source = url or n03_url(year, prefecture_code)
    target = dest_dir / source.rstrip("/").rsplit("/", 1)[-1]
    if not target.name.lower().endswith(".zip"):
        target = dest_dir / f"N03-{year}0101_{prefecture_code}_GML.zip"
    if target.is_file() and not force:
        return FetchResult(target, False, load_boundaries(target, prefecture_code=prefecture_code))
    policy = href_policy or HrefPolicy()
    check_href(source, policy, asset="boundaries")
    network = network or NetworkPolicy()
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part.zip", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(source, out, network, policy)
        try:
            boundaries = load_boundaries(tmp, prefecture_code=prefecture_code)
        except BoundariesMissingError as e:
            raise BoundariesMissingError(
                f"the file downloaded from {source} is not usable N03 boundaries of prefecture "
                f"{prefecture_code} ({e}); nothing was replaced"
            ) from e
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    # checked once, on the download: the same polygons, now read from where they lie
    source = boundaries.source.replace(str(tmp), str(target), 1)
    return FetchResult(target, True, dataclasses.replace(boundaries, source=source))


def _download(url: str, out: BinaryIO, network: NetworkPolicy, policy: HrefPolicy) -> None:
    """Stream ``url`` into ``out``; every redirect is checked by ``policy`` before it is
    followed (at most :data:`MAX_REDIRECTS`)."""
    import requests

    session = retrying_session(network)
    t = network.timeout_s
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with session.get(url, stream=True, timeout=(t, t), allow_redirects=False) as resp:
                if resp.is_redirect:
                    target = urljoin(url, resp.headers.get("Location", ""))
                    url = check_href(target, policy, asset="boundaries (redirect)")
                    continue
                if resp.status_code != 200:
                    raise SourceError(
                        f"GET {url} answered HTTP {resp.status_code}; check the year (MLIT "
                        "publishes N03 editions of 1 January of some years) or give --url"
                    )
                size = 0
                for chunk in resp.iter_content(1 << 20):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise SourceError(f"{url} is larger than {MAX_BYTES >> 20} MB; refused")
                    out.write(chunk)
                return
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects; refused")
    except requests.RequestException as e:
        raise SourceError(f"downloading {url} failed ({e}); nothing was replaced") from e
