"""The indicator report: a self-contained HTML page and the chart as PNG.

The page, in Japanese and English, holds the tally table, the chart (embedded as a data URI),
the counted solutions with their evidence — each product linked to its item and quicklook by
an absolute ``file://`` URI (or its URL), so the page still works when mailed or opened from
elsewhere on the same machine — the solutions inside the baseline, those not counted and why,
and warnings. The chart's Japanese labels use the declared font (``processing.fonts``).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .formats import TITLE, TITLE_EN
from .records import EvidenceRecord
from .tally import Tally, fy_label

__all__ = ["ReportFiles", "file_link", "render_chart", "render_html", "write_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written."""

    html: Path
    png: Path


def render_chart(t: Tally) -> bytes:
    """PNG bytes: new solutions per FY (bars), cumulative count (line) and the target path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ...processing.fonts import font_families

    family = font_families()
    fig = Figure(figsize=(8.5, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(t.rows)))
    ticks = [f"FY{r.fy}\n{r.label}" for r in t.rows]
    past = [(x, r) for x, r in zip(xs, t.rows, strict=True) if not r.future]
    ax.bar(
        [x for x, _ in past],
        [r.new for _, r in past],
        color="#9ecae1",
        label="新規 new",
    )
    ax.plot(
        [x for x, _ in past],
        [r.cumulative or 0 for _, r in past],
        marker="o",
        color="#08519c",
        linewidth=2,
        label="累計 cumulative",
    )
    for x, r in past:
        ax.annotate(str(r.cumulative), (x, r.cumulative or 0), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=8, family=family)  # fmt: skip
    ax.plot(
        xs,
        [r.target for r in t.rows],
        linestyle="--",
        color="#d94801",
        label=f"目標 target ({t.target.value}, FY{t.target.fy})",
    )
    ax.set_xticks(xs, ticks, fontsize=8, family=family)
    ax.set_ylim(0, max([t.target.value, *(r.cumulative or 0 for r in t.rows)]) * 1.18 + 1)
    ax.set_ylabel("件数 solutions", family=family)
    ax.set_title(f"{TITLE}\n{TITLE_EN}", fontsize=10, family=family)
    ax.legend(loc="upper left", fontsize=8, prop={"family": family, "size": 8})
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def file_link(target: str) -> str:
    """An absolute link to ``target``: a URL as it is, a path as a ``file://`` URI, so that
    the page still finds the products when it is mailed or opened from another folder."""
    if "://" in target:
        return target
    return Path(target).resolve().as_uri()


def _link(target: str | None, text: str) -> str:
    if not target:
        return html.escape(text)
    return f'<a href="{html.escape(file_link(target))}">{html.escape(text)}</a>'


_CSS = """body{font-family:'Noto Sans CJK JP','Hiragino Sans','Yu Gothic',sans-serif;margin:2em;
max-width:60em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid
#bbb;padding:.3em .7em}td.n{text-align:right}tr.future{color:#888}.warn{color:#a50f15}
img{max-width:100%}li{margin:.3em 0}code{font-size:.9em}.en{color:#555}"""

_STATUS_JA = {
    "proposed": "提案",
    "prototype": "試作",
    "developed": "開発済み",
    "deployed": "運用中",
    "retired": "廃止",
}

#: Japanese for the reasons and warnings the tally gives in English (by their start)
_REASON_JA = (
    ("status ", "ステータスが「開発済み」に達していない"),
    ("no developed_on date", "開発日が記録されていない"),
    ("no published product is attached", "証拠となる公開済みプロダクトが添付されていない"),
    ("no attached product verified", "添付されたプロダクトが証拠として検証されていない"),
    ("the registry holds", "基準年度までの登録件数が設定の基準値と一致しない"),
)


def _ja_en(en: str) -> str:
    """``<Japanese> / <English>`` for a reason or warning of the tally (English alone when
    no translation is known)."""
    e = html.escape
    ja = next((j for start, j in _REASON_JA if en.startswith(start)), None)
    return f'{e(ja)} <span class="en">/ {e(en)}</span>' if ja else e(en)


def _status(status: str) -> str:
    return f"{html.escape(_STATUS_JA.get(status, status))} {html.escape(status)}"


def _evidence_item(x: EvidenceRecord) -> str:
    e = html.escape
    run = f", 実行 run <code>{e(x.run_id)}</code>" if x.run_id else ""
    quicklook = (
        _link(x.quicklook_href, "クイックルック quicklook")
        if x.quicklook_href
        else "クイックルックなし no quicklook"
    )
    return (
        f"<li>プロダクト product <code>{e(x.product_id)}</code> ({e(x.kind)}{run}): "
        f"{_link(x.item_href, 'STACアイテム STAC item')} · {quicklook}</li>"
    )


def _intro(t: Tally) -> str:
    b, g = t.baseline, t.target
    return f"""<p>{t.as_of} 時点。基準値 <b>{b.value}</b> 件（{html.escape(fy_label(b.fy))}）、
目標 <b>{g.value}</b> 件（{html.escape(fy_label(g.fy))}）。
中間目標は直線で補間し、差 = 目標 − 累計。
ソリューションは、初めて「開発済み」に達した年度（4月〜翌年3月）に、検証済みの公開プロダクトが
1件以上あるとき、1回だけ数えます。<br><span class="en">As of {t.as_of}. Baseline
<b>{b.value}</b> in {html.escape(fy_label(b.fy))}; target <b>{g.value}</b> in
{html.escape(fy_label(g.fy))}. Intermediate targets follow a straight line; gap = target −
cumulative. A solution counts once, in the fiscal year (April–March) it first reached
<i>developed</i>, when it has at least one verified published product.</span></p>"""


def render_html(t: Tally, *, chart_png: bytes) -> str:
    """The report page in Japanese and English; links (items, quicklooks) are absolute."""
    e = html.escape
    rows = "".join(
        f'<tr class="{"future" if r.future else ""}"><td>FY{r.fy}</td><td>{e(r.label)}</td>'
        f'<td class="n">{"" if r.future else r.new}</td>'
        f'<td class="n">{"" if r.cumulative is None else r.cumulative}</td>'
        f'<td class="n">{r.target}</td><td class="n">{"" if r.gap is None else r.gap}</td></tr>'
        for r in t.rows
    )
    counted = "".join(
        f"<li><b>{e(c.solution.id)}</b> — {e(c.solution.name)} ({e(c.solution.organization)})"
        f"; 開発日 developed {c.counted_on} ({e(fy_label(c.fy))}); ステータス status "
        f"{_status(c.solution.status)}<ul>{''.join(_evidence_item(x) for x in c.evidence)}"
        "</ul></li>"
        for c in t.counted
    )
    inside = "".join(
        f"<li>{e(c.solution.id)} — {e(c.solution.name)}; 開発日 developed {c.counted_on}</li>"
        for c in t.baseline_solutions
    )
    excluded = "".join(f"<li>{e(x.solution.id)}: {_ja_en(x.reason)}</li>" for x in t.excluded)
    warnings = "".join(f'<li class="warn">{_ja_en(w)}</li>' for w in t.warnings)
    chart = base64.b64encode(chart_png).decode("ascii")
    base = e(fy_label(t.baseline.fy))
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{e(TITLE)}</title>
<style>{_CSS}</style></head><body>
<h1>{e(TITLE)}<br><small>{e(TITLE_EN)}</small></h1>
{_intro(t)}
{f"<ul>{warnings}</ul>" if warnings else ""}
<table><tr><th>年度 FY</th><th>和暦</th><th>新規 new</th><th>累計 cumulative</th>
<th>目標 target</th><th>差 gap</th></tr>
{rows}</table>
<img alt="累計件数と目標 cumulative solutions against the target"
src="data:image/png;base64,{chart}">
<h2>計上したソリューションと証拠 <small class="en">Counted solutions and their evidence</small></h2>
<ul>{counted or "<li>基準年度後の計上なし none after the baseline yet</li>"}</ul>
<h2>基準値に含まれるもの（{base}以前）
<small class="en">Inside the baseline ({base} and before)</small></h2>
<ul>{inside or "<li>登録なし none registered</li>"}</ul>
<h2>計上しないもの <small class="en">Not counted</small></h2>
<ul>{excluded or "<li>なし none</li>"}</ul>
</body></html>
"""


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_report(t: Tally, out_dir: Path, *, stem: str = "indicator") -> ReportFiles:
    """Write ``<out_dir>/<stem>.html`` and ``<out_dir>/<stem>.png`` (atomically)."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    png = render_chart(t)
    files = ReportFiles(out_dir / f"{stem}.html", out_dir / f"{stem}.png")
    _atomic_write(files.png, png)
    _atomic_write(files.html, render_html(t, chart_png=png).encode("utf-8"))
    return files
