"""The indicator report stands alone: Japanese and English throughout, and links that
resolve wherever the page is opened from (absolute ``file://`` URIs)."""

from __future__ import annotations

import datetime as dt
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from yamasat.catalogs.registry.records import EvidenceRecord, SolutionRecord, StatusEvent
from yamasat.catalogs.registry.report import write_report
from yamasat.catalogs.registry.tally import Point, Tally, tally

D = dt.date


def _product(root: Path, pid: str) -> EvidenceRecord:
    folder = root / "products" / "change" / pid
    folder.mkdir(parents=True)
    (folder / f"{pid}.json").write_text("{}")
    (folder / "quicklook.png").write_bytes(b"\x89PNG")
    return EvidenceRecord(
        product_id=pid,
        item_href=str(folder / f"{pid}.json"),
        kind="change",
        outcome="published",
        qa_status="ok",
        run_id="run-1",
        quicklook_href=str(folder / "quicklook.png"),
    )


def _solution(sid: str, on: D, evidence: tuple[EvidenceRecord, ...], status: str) -> SolutionRecord:
    return SolutionRecord(
        id=sid,
        organization="宇部データ",
        status=status,  # type: ignore[arg-type]
        name_ja=f"{sid} 名",
        name_en=sid,
        developed_on=on if status == "developed" else None,
        history=(StatusEvent(on=on, from_status=None, to_status=status, by="s", reason="t"),),  # type: ignore[arg-type]
        evidence=evidence,
    )


@pytest.fixture
def report_tally(tmp_path: Path) -> Tally:
    records = [
        _solution("hofu-flood", D(2024, 6, 1), (_product(tmp_path, "change-a"),), "developed"),
        _solution("ube-change", D(2025, 5, 1), (_product(tmp_path, "change-b"),), "developed"),
        _solution("idea", D(2025, 5, 1), (), "proposed"),
    ]
    return tally(records, baseline=Point(2022, 25), target=Point(2026, 33), today=D(2026, 11, 28))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def test_every_link_resolves_from_another_folder(
    report_tally: Tally, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = write_report(report_tally, Path("reports"))  # a relative folder
    mailed = tmp_path / "elsewhere" / "inbox"
    mailed.mkdir(parents=True)
    copy = mailed / "indicator.html"
    copy.write_bytes(files.html.read_bytes())  # the page alone, as an attachment
    monkeypatch.chdir(mailed)
    parser = _Links()
    parser.feed(copy.read_text(encoding="utf-8"))
    assert len(parser.hrefs) == 4  # item and quicklook of two products
    for href in parser.hrefs:
        url = urlparse(href)
        assert url.scheme == "file", href
        target = Path(unquote(url.path))
        assert target.is_absolute() and target.is_file(), href
        # and resolved against the page's own folder, as a browser does, it is the same file
        assert (mailed / target).resolve() == target.resolve()
    assert os.getcwd() == str(mailed)


def _visible_text(page: str) -> str:
    body = page.split("<body>", 1)[1]
    body = re.sub(r'src="data:[^"]+"', "", body)
    return re.sub(r"<[^>]+>", " ", body)


def test_the_body_is_japanese_and_english(report_tally: Tally, tmp_path: Path) -> None:
    page = write_report(report_tally, tmp_path / "r").html.read_text(encoding="utf-8")
    for h2 in re.findall(r"<h2>(.*?)</h2>", page, flags=re.S):
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", h2), h2
        assert re.search(r"[A-Za-z]{4,}", h2), h2
    text = _visible_text(page)
    for ja, en in [
        ("時点", "As of"),
        ("基準値", "Baseline"),
        ("計上しないもの", "Not counted"),
        ("ステータスが「開発済み」に達していない", "status proposed is below developed"),
        ("クイックルック", "quicklook"),
        ("新規", "new"),
    ]:
        assert ja in text and en in text, (ja, en)
    # every table header and list item carries Japanese
    for cell in re.findall(r"<th>(.*?)</th>", page):
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", cell), cell
