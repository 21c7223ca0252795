"""The HTML pages: Jinja2 templates (``templates/``, autoescaped) with the helpers they share.

Every internal link goes through ``url(path)``, which carries the page's language on; the
language switch links to the same page in the other language.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .i18n import LANGS, words

if TYPE_CHECKING:
    import jinja2

__all__ = ["render_page"]


@functools.cache
def _env() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("yamasat.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def _pct(value: object) -> str:
    return f"{100 * float(value):.1f} %" if isinstance(value, int | float) else ""


def _km2(value: object) -> str:
    return f"{float(value) / 1e6:.3f} km²" if isinstance(value, int | float) else ""


def _size(value: object) -> str:
    if not isinstance(value, int | float):
        return ""
    for unit, step in (("MB", 1e6), ("kB", 1e3)):
        if value >= step:
            return f"{value / step:.1f} {unit}"
    return f"{int(value)} B"


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _when(value: dt.datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _solution_name(lang: str) -> Any:
    def name(s: Any) -> str:
        first, second = (s.name_ja, s.name_en) if lang == "ja" else (s.name_en, s.name_ja)
        return str(first or second or "")

    return name


def render_page(
    template: str, *, lang: str, path: str, title: str, timezone: str, **context: Any
) -> str:
    """The page ``template`` in ``lang`` for the request ``path``."""
    other = LANGS[1 - LANGS.index(lang)]
    w = words(lang)

    def url(target: str) -> str:
        return f"{target}?{urlencode({'lang': lang})}"

    return (
        _env()
        .get_template(template)
        .render(
            lang=lang,
            w=w,
            title=title,
            url=url,
            other_lang=other,
            other_lang_url=f"{path}?{urlencode({'lang': other})}",
            kind_name=w.kind,
            pct=_pct,
            km2=_km2,
            size=_size,
            seconds=_seconds,
            when=functools.partial(_when, tz=timezone),
            sname=_solution_name(lang),
            page=context.pop("page", ""),
            **context,
        )
    )
