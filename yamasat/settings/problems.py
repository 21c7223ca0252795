"""Wording of configuration problems: dotted key, value (secrets masked), where it was set,
and what is expected."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .redaction import MASK, looks_secret, masked
from .schema import model_at

__all__ = ["Provenance", "dotted", "problem"]

Provenance = dict[tuple[str, ...], str]  # key path of each value -> where it was set


def dotted(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted key, for example ``sources.mirror.location``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text


def _show(value: Any, loc: tuple[Any, ...]) -> str:
    """``value`` as short JSON, masked if secret."""
    if any(looks_secret(part) for part in loc if isinstance(part, str)):
        return MASK
    text = json.dumps(masked(value), ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _origin(loc: tuple[Any, ...], prov: Provenance) -> str:
    """Where the value at ``loc`` (or, failing that, its section) was set."""
    keys = tuple(p for p in loc if isinstance(p, str) and p != "[key]")
    for n in range(len(keys), 0, -1):
        if keys[:n] in prov:
            return prov[keys[:n]]
    for n in range(len(keys), -1, -1):
        below = sorted({o for p, o in prov.items() if p[:n] == keys[:n]})
        if below:
            return "; ".join(below)
    return "the configuration"


def problem(error: Mapping[str, Any], prov: Provenance) -> str:
    """One line for one pydantic ``error``: key = value (where it was set): what is wrong."""
    loc = tuple(error["loc"])
    key, where = dotted(loc) or "(top level)", _origin(loc, prov)
    if error["type"] == "missing" and loc and isinstance(loc[-1], int):
        shown = _show(error.get("input"), loc)
        return f"{dotted(loc[:-1])} = {shown} ({where}): too few items; item {loc[-1]} is missing"
    if error["type"] == "missing":
        return f"{key} ({where}): missing; this key is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        model = model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else "?"
        message = f"unknown key; allowed keys of {dotted(loc[:-1]) or 'the top level'}: {allowed}"
    elif loc and loc[-1] == "[key]":
        message = f"invalid name: {message}"
    return f"{key} = {_show(error.get('input'), loc)} ({where}): {message}"
