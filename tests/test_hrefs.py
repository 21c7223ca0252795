"""Asset href policy and safe file names (FAULTS.md section C)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.sources.hrefs import HrefPolicy, check_href, resolve_href, safe_name
from yamasat.errors import ConfigError, HrefPolicyError, SourceError

PUBLIC = HrefPolicy()
SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _refused(href: str, policy: HrefPolicy = PUBLIC) -> str:
    with pytest.raises(HrefPolicyError) as info:
        check_href(href, policy, item_id="S2A_X", asset="B04")
    return str(info.value)


# ---------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "href",
    [
        "https://sentinel-cogs.s3.us-west-2.amazonaws.com/tiles/52/S/DD/B04.tif",
        "https://example.com:8443/a.tif?sig=abc",
        "HTTPS://Example.COM/a.tif",
        "https://8.8.8.8/a.tif",
        "https://[2001:4860:4860::8888]/a.tif",
        "  https://example.com/a.tif  ",
    ],
)
def test_public_https_is_allowed_unchanged(href: str) -> None:
    assert check_href(href, PUBLIC) == href.strip()


@pytest.mark.parametrize(
    ("href", "rule"),
    [
        ("http://example.com/a.tif", "plain-http"),
        ("http://169.254.169.254/latest/meta-data", "private-address"),
        ("https://169.254.169.254/latest", "private-address"),
        ("http://[::1]/x", "private-address"),
        ("https://[::1]:8443/x", "private-address"),
        ("https://[fe80::1]/x", "private-address"),
        ("https://[fd00::1]/x", "private-address"),
        ("https://[::ffff:10.0.0.1]/x", "private-address"),
        ("http://10.0.0.1/x", "private-address"),
        ("https://10.0.0.1/x", "private-address"),
        ("https://172.16.5.4/x", "private-address"),
        ("https://192.168.1.1/x", "private-address"),
        ("https://127.0.0.1/x", "private-address"),
        ("https://0.0.0.0/x", "private-address"),
        ("https://127.1/x", "private-address"),  # curl reads legacy IPv4 forms
        ("https://2130706433/x", "private-address"),
        ("https://0x7f.0.0.1/x", "private-address"),
        ("https://224.0.0.1/x", "private-address"),
        ("https://localhost/x", "private-address"),
        ("https://LOCALHOST./x", "private-address"),
        ("https://ｌｏｃａｌｈｏｓｔ/x", "private-address"),  # IDNA maps full-width letters
        ("https://１２７.0.0.1/x", "private-address"),
        ("https://127.0.0.1./x", "private-address"),
        ("https://100.64.0.1/x", "private-address"),  # shared address space (CGNAT)
        ("https://tiles.localhost/x", "private-address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "private-address"),
        ("https://1.2.3.4.5/x", "bad-host"),
        ("https://%31%32%37.0.0.1/x", "bad-host"),
        ("https:///x.tif", "bad-host"),
        ("https://[::1/x", "malformed"),
        ("https://host:99999/x", "bad-port"),
        ("https://user:pw@example.com/x", "userinfo"),
        ("https://example.com\\@10.0.0.1/x", "userinfo"),
    ],
)
def test_unsafe_urls_are_refused(href: str, rule: str) -> None:
    message = _refused(href)
    assert f"rule {rule!r}" in message
    assert "item 'S2A_X'" in message and "asset 'B04'" in message


@pytest.mark.parametrize(
    ("href", "rule", "advice"),
    [
        ("/vsicurl/https://example.com/a.tif", "gdal-vsi", "plain https URL"),
        ("/vsizip//data/a.zip/a.tif", "gdal-vsi", "plain https URL"),
        ("/VSIS3/bucket/key.tif", "gdal-vsi", "plain https URL"),
        ("/vsimem/x.tif", "gdal-vsi", "plain https URL"),
        ("MEM:::DATAPOINTER=0x1,PIXELS=1,LINES=1", "gdal-mem", "in-memory"),
        ('<VRTDataset rasterXSize="1"></VRTDataset>', "inline-xml", "inline XML"),
        ("s3://bucket/key.tif", "scheme", "https URL"),
        ("gs://bucket/key.tif", "scheme", "https URL"),
        ("ftp://example.com/a.tif", "scheme", "https URL"),
        ("data:image/tiff;base64,AAAA", "scheme", "https URL"),
        ("NETCDF:/data/a.nc:var", "scheme", "https URL"),
        ("vrt:///data/a.tif?bands=1", "scheme", "https URL"),
        ("https://example.com/a.vrt", "gdal-vrt", "VRT"),
        ("", "empty", "fix the STAC item"),
        ("   \t", "empty", "fix the STAC item"),
        ("https://example.com/a\n.tif", "control-character", "control characters"),
    ],
)
def test_gdal_special_and_other_schemes_are_refused(href: str, rule: str, advice: str) -> None:
    message = _refused(href)
    assert f"rule {rule!r}" in message
    assert advice in message


def test_http_and_private_hosts_allowed_when_listed() -> None:
    policy = HrefPolicy(allowed_http_hosts=("127.0.0.1:8080", "[::1]", "Tiles.Example.org"))
    for href in (
        "http://127.0.0.1:8080/a.tif",
        "http://[::1]/a.tif",
        "http://[::1]:9/a.tif",
        "http://tiles.example.org/a.tif",
        "https://tiles.example.org:444/a.tif",
    ):
        assert check_href(href, policy) == href
    assert "private-address" in _refused("http://127.0.0.1:8081/a.tif", policy)
    assert "plain-http" in _refused("http://example.org/a.tif", policy)


def test_advice_names_the_config_key() -> None:
    assert "add the host to network.allowed_http_hosts" in _refused("http://10.0.0.1/x")
    assert "add the folder to network.allowed_roots" in _refused("file:///etc/passwd")


def test_secrets_never_appear_in_the_error() -> None:
    canary = "CANARY-sig-0123456789"
    for href in (
        f"http://example.com/a.tif?sv=2024&sig={canary}",
        f"https://user:{canary}@example.com/a.tif",
        f"s3://bucket/a.tif?X-Amz-Signature={canary}",
    ):
        message = _refused(href)
        assert canary not in message
        assert "example.com" in message or "bucket" in message


def test_policy_error_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        check_href("ftp://x/y", PUBLIC)


@pytest.mark.parametrize("entry", ["http://example.com", "example.com/path", "", "u@host"])
def test_malformed_allowed_host_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match=r"network\.allowed_http_hosts"):
        HrefPolicy(allowed_http_hosts=(entry,))


def test_refused_href_never_reaches_the_server(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"II*\x00")
    with RangeServer(tmp_path) as srv:
        url = srv.file_url("a.tif")
        with pytest.raises(HrefPolicyError, match="private-address"):
            check_href(url, PUBLIC, item_id="i", asset="a")
        assert srv.requests == []
        allowed = check_href(url, HrefPolicy(allowed_http_hosts=(f"127.0.0.1:{srv.port}",)))
        assert requests.get(allowed, timeout=5).content == b"II*\x00"
        assert len(srv.requests) == 1


# ---------------------------------------------------------------------------- local paths


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    (folder / "items").mkdir(parents=True)
    (folder / "items" / "a.tif").write_bytes(b"")
    (tmp_path / "outside.tif").write_bytes(b"")
    return folder


def test_paths_inside_roots_come_back_resolved(root: Path) -> None:
    policy = HrefPolicy(allowed_roots=(root,))
    expected = str((root / "items" / "a.tif").resolve())
    assert check_href(str(root / "items" / "a.tif"), policy) == expected
    assert check_href(str(root / "items" / ".." / "items" / "a.tif"), policy) == expected
    assert check_href((root / "items" / "a.tif").as_uri(), policy) == expected
    assert check_href(f"file://localhost{root}/items/a.tif", policy) == expected
    assert check_href(str(root / "not-yet-written.tif"), policy).endswith("not-yet-written.tif")


def test_paths_outside_roots_are_refused(root: Path) -> None:
    policy = HrefPolicy(allowed_roots=(root,))
    assert "outside-roots" in _refused("file:///etc/passwd", policy)
    assert "outside-roots" in _refused("/etc/passwd", policy)
    assert "outside-roots" in _refused(str(root.parent / "outside.tif"), policy)
    assert "outside-roots" in _refused(f"{root}/items/../../outside.tif", policy)
    assert "outside-roots" in _refused(f"file://{root}/%2e%2e/outside.tif", policy)
    assert "outside-roots" in _refused(str(root) + "-sibling/a.tif", policy)
    assert "file-remote-host" in _refused("file://fileserver/share/a.tif", policy)
    assert "no local folders are allowed" in _refused(str(root / "items" / "a.tif"))


def test_relative_href_resolved_against_item_cannot_escape(root: Path) -> None:
    policy = HrefPolicy(allowed_roots=(root,))
    item_href = str(root / "items" / "item.json")
    inside = resolve_href("./a.tif", item_href)
    assert check_href(inside, policy) == str((root / "items" / "a.tif").resolve())
    for base in (item_href, (root / "items" / "item.json").as_uri()):
        escaped = resolve_href("../../etc/passwd", base)
        message = _refused(escaped, policy)
        assert "outside-roots" in message


def test_symlink_escaping_a_root_is_refused(root: Path, tmp_path: Path) -> None:
    policy = HrefPolicy(allowed_roots=(root,))
    (root / "escape").symlink_to(tmp_path)
    (root / "alias.tif").symlink_to(root / "items" / "a.tif")
    assert "outside-roots" in _refused(str(root / "escape" / "outside.tif"), policy)
    assert "outside-roots" in _refused((root / "escape" / "outside.tif").as_uri(), policy)
    assert check_href(str(root / "alias.tif"), policy) == str(root.resolve() / "items" / "a.tif")


def test_root_given_through_a_symlink_still_matches(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-archive"
    link.symlink_to(root)
    policy = HrefPolicy(allowed_roots=(link,))
    assert check_href(str(root / "items" / "a.tif"), policy).endswith("items/a.tif")


def test_local_vrt_is_refused_even_inside_a_root(root: Path) -> None:
    assert "gdal-vrt" in _refused(str(root / "a.vrt"), HrefPolicy(allowed_roots=(root,)))


# ---------------------------------------------------------------------------- resolve_href


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("B04.tif", "https://h.org/c/items/i.json", "https://h.org/c/items/B04.tif"),
        ("../data/B04.tif", "https://h.org/c/items/i.json", "https://h.org/c/data/B04.tif"),
        ("https://other.org/x.tif", "https://h.org/c/i.json", "https://other.org/x.tif"),
        ("B04.tif", "/data/c/items/i.json", "/data/c/items/B04.tif"),
        ("../../x.tif", "/data/c/items/i.json", "/data/x.tif"),
        ("/abs/x.tif", "/data/c/i.json", "/abs/x.tif"),
        ("a.tif", "file:///data/c/i.json", "file:///data/c/a.tif"),
        ("/vsicurl/https://x/y.tif", "/data/i.json", "/vsicurl/https://x/y.tif"),
    ],
)
def test_resolve_href(href: str, base: str, expected: str) -> None:
    assert resolve_href(href, base) == expected


# ---------------------------------------------------------------------------- safe_name


@pytest.mark.parametrize(
    "item_id", ["S2A_MSIL2A_20240105T020341_R103_T52SDD_20240105T050000", "LC09.L2SP.a-b_c"]
)
def test_safe_ids_are_kept(item_id: str) -> None:
    assert safe_name(item_id) == item_id


@pytest.mark.parametrize(
    ("item_id", "prefix"),
    [
        ("../../x", "x"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("..", "item"),
        (".", "item"),
        ("", "item"),
        (".hidden", "hidden"),
        ("-rf", "rf"),
        ("CON", "CON"),
        ("nul.tif", "nul.tif"),
        ("a--b", "a-b"),
        ("x" * 300, "x" * 102),
        ("山口県 2024", "2024"),
        ("Ünïcødé", "Unicde"),
    ],
)
def test_unsafe_ids_get_a_readable_prefix_and_hash(item_id: str, prefix: str) -> None:
    name = safe_name(item_id)
    assert re.fullmatch(re.escape(prefix) + r"--[0-9a-f]{16}", name), name
    assert len(name) <= 120


def test_max_len_is_respected_and_validated() -> None:
    assert len(safe_name("y" * 500, max_len=30)) == 30
    with pytest.raises(ValueError, match="max_len"):
        safe_name("x", max_len=5)


@given(st.text(max_size=400), st.integers(min_value=24, max_value=255))
def test_safe_name_is_always_a_plain_file_name(item_id: str, max_len: int) -> None:
    name = safe_name(item_id, max_len=max_len)
    assert SAFE.fullmatch(name)
    assert ".." not in name
    assert len(name) <= max_len
    out = Path("/srv/out")
    assert (out / name).parent == out
    assert Path(name).name == name


@given(st.text(max_size=200), st.text(max_size=200))
def test_different_ids_give_different_names(a: str, b: str) -> None:
    if a != b:
        assert safe_name(a) != safe_name(b)


@given(st.text(max_size=60))
def test_hashed_names_never_clash_with_kept_ids(item_id: str) -> None:
    name = safe_name(item_id)
    # a kept id never contains "--"; every hashed name does
    assert (name == item_id) != ("--" in name)
