"""Walking the schema of :class:`Settings`: which model or type sits at a key path, and which
keys hold paths that resolve against the folder of their layer."""

from __future__ import annotations

import os
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .fields import RELATIVE, is_url
from .models import Settings

__all__ = ["ROOT", "Slot", "child", "model_at", "resolve_paths", "unwrap"]

Slot = tuple[Any, tuple[Any, ...]]  # (annotation, metadata) of a position in Settings
ROOT: Slot = (Settings, ())


def unwrap(slot: Slot) -> Slot:
    """Strip ``Annotated`` (collecting its metadata) and ``X | None`` from a slot."""
    tp, meta = slot
    while True:
        if get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            meta = (*meta, *more)
        elif get_origin(tp) in (Union, UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, meta
            tp = args[0]
        else:
            return tp, meta


def child(slot: Slot | None, key: object) -> Slot | None:
    """The slot under ``key`` of a model or mapping slot; None if the schema has no such key."""
    tp = unwrap(slot)[0] if slot is not None else None
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(key, str):
        field = tp.model_fields.get(key)
        return None if field is None else (field.annotation, tuple(field.metadata))
    if get_origin(tp) is dict:
        return (get_args(tp)[1], ())
    return None


def model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at key ``path`` of :class:`Settings`, or None if a value or nothing is there."""
    slot: Slot | None = ROOT
    for key in path:
        slot = child(slot, key)
    tp = unwrap(slot)[0] if slot is not None else None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _relative_kind(slot: Slot | None) -> Literal["one", "many"] | None:
    if slot is None:
        return None
    tp, meta = unwrap(slot)
    if RELATIVE in meta:
        return "one"
    args = get_args(tp)
    if get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return "many" if RELATIVE in unwrap((args[0], ()))[1] else None
    return None


def _resolve_text(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value.strip() or is_url(value.strip()):
        return value
    return os.path.abspath(base / Path(value.strip()).expanduser())


def resolve_paths(node: Any, base: Path, slot: Slot | None = ROOT) -> Any:
    """A copy of ``node`` whose relative paths (per the schema) are made absolute on ``base``."""
    if isinstance(node, dict):
        return {k: resolve_paths(v, base, child(slot, k)) for k, v in node.items()}
    kind = _relative_kind(slot)
    if kind == "one":
        return _resolve_text(node, base)
    if kind == "many" and isinstance(node, list):
        return [_resolve_text(v, base) for v in node]
    return node
