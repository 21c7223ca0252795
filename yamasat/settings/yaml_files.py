"""Reading yamasat configuration files safely, and masking secrets in what is shown.

YAML is parsed with a ``SafeLoader`` subclass that refuses duplicate keys and every
non-standard tag (nothing is ever constructed or executed), keeps timestamps as text so the
date validators can explain a bad value, and reports non-UTF-8 bytes with their position.
Values whose key looks secret (token, key, password) and URL passwords are masked in
messages and in ``Settings.describe()``.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from ..errors import ConfigError

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SECRET_WORD_RE = re.compile(r"token|password|passwd|secret|credential|apikey|api_key", re.I)
_SECRET_PART_RE = re.compile(r"(?:^|[_\-.])(?:keys?|pwd|sig|signature)(?:$|[_\-.])", re.I)
_MASK = "***"


# --------------------------------------------------------------------------- secrets


def _looks_secret(key: object) -> bool:
    text = str(key)
    return bool(_SECRET_WORD_RE.search(text) or _SECRET_PART_RE.search(text))


def _mask_url(text: str) -> str:
    """``text`` with a URL password and secret-looking query values replaced by ``***``."""
    if not _URL_RE.match(text):
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    netloc = parts.netloc
    if password is not None:
        user, _, hostport = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{_MASK}@{hostport}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, _MASK if _looks_secret(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query or parts.query, parts.fragment))


def _masked(value: Any, key: object = None) -> Any:
    if key is not None and value is not None and _looks_secret(key):
        return _MASK
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return _mask_url(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- YAML


class _ConfigLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys and unknown tags, and keeps dates as text
    (so that :data:`ConfigDate` can say what is wrong with them)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r} (first on line {first.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> NoReturn:
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the tag {tag!r} is not allowed: only plain YAML (mappings, lists, text, numbers, "
        "booleans, null) is accepted; nothing was executed",
        node.start_mark,
    )


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_ConfigLoader.add_constructor(None, _refuse_tag)
_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
# YAML 1.2 floats in exponent form without a dot (``1e-4``): PyYAML follows YAML 1.1, which
# reads them as text, and a strict float setting would then refuse what the docs write
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{where}{at}: invalid YAML: {e.problem or e.context}") from e
    except (yaml.YAMLError, ValueError) as e:
        raise ConfigError(f"{where}: invalid YAML: {e}") from e
