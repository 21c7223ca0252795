"""The indicator report: a self-contained HTML page and the chart as PNG.

The page holds the tally table, the chart (embedded as a data URI, so the page needs no
other file), the counted solutions with their evidence — each product linked to its item
and quicklook — the solutions inside the baseline, those not counted and why, and warnings.
Japanese labels need a CJK font (Debian ``fonts-noto-cjk``); without one the chart is drawn
with English labels only.
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
from .tally import Tally, fy_label

__all__ = ["ReportFiles", "render_chart", "render_html", "write_report"]

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

    from ...processing.quicklook import cjk_font

    font = cjk_font()
    ja = font is not None
    if not ja:
        log.warning("no CJK font found (install fonts-noto-cjk): chart labels in English only")
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    fig = Figure(figsize=(8.5, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(t.rows)))
    ticks = [f"FY{r.fy}\n{r.label}" if ja else f"FY{r.fy}" for r in t.rows]
    past = [(x, r) for x, r in zip(xs, t.rows, strict=True) if not r.future]
    ax.bar(
        [x for x, _ in past],
        [r.new for _, r in past],
        color="#9ecae1",
        label="新規 new" if ja else "new",
    )
    ax.plot(
        [x for x, _ in past],
        [r.cumulative or 0 for _, r in past],
        marker="o",
        color="#08519c",
        linewidth=2,
        label="累計 cumulative" if ja else "cumulative",
    )
    for x, r in past:
        ax.annotate(str(r.cumulative), (x, r.cumulative or 0), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=8, family=family)  # fmt: skip
    ax.plot(
        xs,
        [r.target for r in t.rows],
        linestyle="--",
        color="#d94801",
        label=("目標 target" if ja else "target") + f" ({t.target.value}, FY{t.target.fy})",
    )
    ax.set_xticks(xs, ticks, fontsize=8, family=family)
    ax.set_ylim(0, max([t.target.value, *(r.cumulative or 0 for r in t.rows)]) * 1.18 + 1)
    ax.set_ylabel("件数 solutions" if ja else "solutions", family=family)
    title = f"{TITLE}\n{TITLE_EN}" if ja else TITLE_EN
    ax.set_title(title, fontsize=10, family=family)
    ax.legend(loc="upper left", fontsize=8, prop={"family": family, "size": 8})
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _link(target: str | None, base: Path, text: str) -> str:
    if not target:
        return html.escape(text)
    href = target
    if "://" not in target:
        try:
            href = os.path.relpath(target, base)
        except ValueError:  # another drive (Windows)
            href = Path(target).as_uri()
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


_CSS = """body{font-family:'Noto Sans CJK JP','Hiragino Sans','Yu Gothic',sans-serif;margin:2em;
max-width:60em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid
#bbb;padding:.3em .7em}td.n{text-align:right}tr.future{color:#888}.warn{color:#a50f15}
img{max-width:100%}li{margin:.3em 0}code{font-size:.9em}"""


def render_html(t: Tally, *, chart_png: bytes, base: Path) -> str:
    """The report page; links (items, quicklooks) are relative to the folder ``base``."""
    e = html.escape
    rows = "".join(
        f'<tr class="{"future" if r.future else ""}"><td>FY{r.fy}</td><td>{e(r.label)}</td>'
        f'<td class="n">{"" if r.future else r.new}</td>'
        f'<td class="n">{"" if r.cumulative is None else r.cumulative}</td>'
        f'<td class="n">{r.target}</td><td class="n">{"" if r.gap is None else r.gap}</td></tr>'
        for r in t.rows
    )
    counted = []
    for c in t.counted:
        s = c.solution
        ev = "".join(
            f"<li>product <code>{e(x.product_id)}</code> ({e(x.kind)}"
            f"{', run <code>' + e(x.run_id) + '</code>' if x.run_id else ''}): "
            f"{_link(x.item_href, base, 'STAC item')} · "
            f"{_link(x.quicklook_href, base, 'quicklook') if x.quicklook_href else 'no quicklook'}"
            "</li>"
            for x in c.evidence
        )
        counted.append(
            f"<li><b>{e(s.id)}</b> — {e(s.name)} ({e(s.organization)}); developed "
            f"{c.counted_on} ({e(fy_label(c.fy))}); status {e(s.status)}<ul>{ev}</ul></li>"
        )
    inside = "".join(
        f"<li>{e(c.solution.id)} — {e(c.solution.name)}; developed {c.counted_on}</li>"
        for c in t.baseline_solutions
    )
    excluded = "".join(f"<li>{e(x.solution.id)}: {e(x.reason)}</li>" for x in t.excluded)
    warnings = "".join(f'<li class="warn">{e(w)}</li>' for w in t.warnings)
    chart = base64.b64encode(chart_png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{e(TITLE)}</title>
<style>{_CSS}</style></head><body>
<h1>{e(TITLE)}<br><small>{e(TITLE_EN)}</small></h1>
<p>As of {t.as_of}. Baseline <b>{t.baseline.value}</b> in {e(fy_label(t.baseline.fy))};
target <b>{t.target.value}</b> in {e(fy_label(t.target.fy))}. Intermediate targets follow a
straight line; gap = target − cumulative. A solution counts once, in the fiscal year (April–March)
it first reached <i>developed</i>, when it has at least one verified published product.</p>
{f"<ul>{warnings}</ul>" if warnings else ""}
<table><tr><th>FY</th><th>年度</th><th>new</th><th>cumulative</th><th>target</th><th>gap</th></tr>
{rows}</table>
<img alt="cumulative solutions against the target" src="data:image/png;base64,{chart}">
<h2>Counted solutions and their evidence</h2>
<ul>{"".join(counted) or "<li>none after the baseline yet</li>"}</ul>
<h2>Inside the baseline ({e(fy_label(t.baseline.fy))} and before)</h2>
<ul>{inside or "<li>none registered</li>"}</ul>
<h2>Not counted</h2><ul>{excluded or "<li>none</li>"}</ul>
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
    _atomic_write(files.html, render_html(t, chart_png=png, base=out_dir).encode("utf-8"))
    return files
