"""The web view's words in Japanese and English, and how a request picks its language.

A page's language is ``?lang=ja`` or ``?lang=en``; without it, the browser's
``Accept-Language`` decides (Japanese when it prefers Japanese, else English). Every internal
link carries the language on, so a reader stays in the language they chose.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGS", "Words", "pick_lang", "words"]

LANGS = ("ja", "en")
"""The languages of the web view"""

_WORDS: dict[str, tuple[str, str]] = {
    # key: (ja, en)
    "site": ("yamasat 衛星データ成果", "yamasat satellite products"),
    "skip": ("本文へ移動", "Skip to content"),
    "nav": ("サイト内ナビゲーション", "Site navigation"),
    "map": ("地図", "Map"),
    "products": ("成果物", "Products"),
    "indicator": ("指標", "Indicator"),
    "runs": ("実行履歴", "Recent runs"),
    "language": ("言語", "Language"),
    "other_lang": ("English", "日本語"),
    "read_only": (
        "閲覧専用です。登録簿の変更は yamasat solutions コマンドで行います。",
        "Read-only. Change the registry with the yamasat solutions commands.",
    ),
    "map_title": ("成果物の地図", "Map of products"),
    "map_label": (
        "成果物の地図。矢印キーで移動、+ と - で拡大縮小。",
        "Map of products. Arrow keys pan, + and - zoom.",
    ),
    "base_municipal": ("市町村界", "Municipal outlines"),
    "base_prefecture": ("県の輪郭", "Prefecture outline"),
    "base_source_n03": (
        "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成",
        "Source: MLIT National Land Numerical Information (administrative areas), processed",
    ),
    "base_source_japanmap": (
        "県の輪郭は japanmap パッケージ（本土のみ、粗い）。市町村界は boundaries.path に N03 "
        "ファイルを設定すると表示されます。",
        "Prefecture outline from the japanmap package (mainland only, coarse); set "
        "boundaries.path to the N03 file for municipal outlines.",
    ),
    "layers": ("表示する層", "Layers"),
    "zoom_in": ("拡大", "Zoom in"),
    "zoom_out": ("縮小", "Zoom out"),
    "no_products": (
        "成果物はまだありません。yamasat demo を実行してください。",
        "No products yet: run yamasat demo.",
    ),
    "product": ("成果物", "Product"),
    "kind": ("種類", "Kind"),
    "aoi": ("対象地域", "Area of interest"),
    "before": ("変化前の期間", "Before"),
    "after": ("変化後の期間", "After"),
    "coverage": ("有効観測率", "Valid coverage"),
    "detected": ("検出面積", "Detected area"),
    "objects": ("検出数", "Objects"),
    "solutions": ("関連ソリューション", "Solutions"),
    "provenance": ("来歴", "Provenance"),
    "flow": ("フロー", "Flow"),
    "run": ("実行", "Run"),
    "software": ("ソフトウェア", "Software"),
    "source": ("データソース", "Source"),
    "inputs": ("入力データ", "Inputs"),
    "parameters": ("パラメータ", "Parameters"),
    "qa": ("品質確認", "QA"),
    "accuracy": ("精度", "Accuracy"),
    "evidence_check": ("ファイル検証", "File check"),
    "warnings": ("注意", "Warnings"),
    "none": ("なし", "none"),
    "by_municipality": ("市町村別集計", "By municipality"),
    "no_municipalities": (
        "市町村別集計はありません（市町村界が未設定です）。",
        "No per-municipality table (no municipal boundaries were configured).",
    ),
    "code": ("コード", "Code"),
    "name_ja": ("市町村名（日本語）", "Name (Japanese)"),
    "name_en": ("市町村名（英語）", "Name (English)"),
    "area_km2": ("面積 (km²)", "Area (km²)"),
    "share": ("市町村に占める割合", "Share of municipality"),
    "valid_coverage": ("有効観測率", "Valid coverage"),
    "downloads": ("ダウンロード", "Downloads"),
    "asset": ("アセット", "Asset"),
    "size": ("サイズ", "Size"),
    "item_json": ("STAC アイテム (JSON)", "STAC item (JSON)"),
    "fy": ("年度", "Fiscal year"),
    "new": ("新規", "New"),
    "cumulative": ("累計", "Cumulative"),
    "target": ("目標", "Target"),
    "gap": ("目標との差", "Gap to target"),
    "chart": ("累計と目標線", "Cumulative count against the target line"),
    "counted": ("計上したソリューションと根拠", "Counted solutions and their evidence"),
    "not_counted": ("計上していないソリューションと理由", "Solutions not counted, and why"),
    "baseline_solutions": ("基準年度までのソリューション", "Solutions inside the baseline"),
    "solution": ("ソリューション", "Solution"),
    "organization": ("組織", "Organization"),
    "status": ("状態", "Status"),
    "developed_on": ("開発日", "Developed on"),
    "evidence": ("根拠となる成果物", "Evidence"),
    "reason": ("理由", "Reason"),
    "as_of": ("集計日", "As of"),
    "tally_note": (
        "数値は yamasat solutions tally と同じ計算で、根拠となる成果物ファイルのサイズと"
        "SHA-256 を検証したうえで集計しています（変更のあったファイルは再検証します。登録簿には"
        "書き込みません）。",
        "Counted by the same code as yamasat solutions tally, after verifying every evidence "
        "file's size and SHA-256 (again whenever a file changed); nothing is written to the "
        "registry.",
    ),
    "started": ("開始", "Started"),
    "state": ("状態", "State"),
    "outcome": ("結果・失敗理由", "Outcome or failure reason"),
    "duration": ("所要時間", "Duration"),
    "no_runs": ("実行記録はありません。", "No runs recorded."),
    "lost": ("消失（プロセスなし）", "lost (its process is gone)"),
    "not_found": ("見つかりません", "Not found"),
    "home": ("地図へ戻る", "Back to the map"),
    "open": ("開く", "Open"),
    "kind_change": ("土地被覆変化", "Land-cover change"),
    "kind_flood": ("浸水域", "Flood extent"),
    "kind_landslide": ("斜面崩壊", "Landslide scars"),
    "kind_burn": ("焼失域", "Burn scar"),
}


class Words:
    """The words of one language: ``w["map"]``; an unknown key fails loudly (a typo)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._i = LANGS.index(lang)

    def __getitem__(self, key: str) -> str:
        return _WORDS[key][self._i]

    def kind(self, kind: str) -> str:
        """The name of a product kind (the kind itself when it has none here)."""
        pair = _WORDS.get(f"kind_{kind}")
        return pair[self._i] if pair else kind


def words(lang: str) -> Words:
    """The words of ``lang`` (``ja`` or ``en``)."""
    return Words(lang)


def pick_lang(query: Mapping[str, str], accept_language: str | None) -> str:
    """``?lang=`` when it names a language of the view, else Japanese when the browser
    prefers it (the first Accept-Language entry), else English."""
    asked = (query.get("lang") or "").strip().lower()
    if asked in LANGS:
        return asked
    first = (accept_language or "").split(",")[0].strip().lower()
    return "ja" if first.startswith("ja") else "en"
