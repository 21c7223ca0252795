"""Reading yamasat configuration files safely.

YAML is parsed with a ``SafeLoader`` subclass that refuses duplicate keys and every
non-standard tag (nothing is ever constructed or executed), keeps timestamps as text so the
date validators can explain a bad value, and reads ``1e-4`` as a number (YAML 1.2). Files
must be UTF-8; a bad byte is reported with its position.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

import yaml

from ..errors import ConfigError

__all__ = ["parse_yaml", "read_yaml_file"]


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


def parse_yaml(text: str, where: str) -> Any:
    """The value of the YAML document ``text``; :class:`ConfigError` naming ``where`` (a file
    or environment variable) and the line and column if it is not valid."""
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{where}{at}: invalid YAML: {e.problem or e.context}") from e
    except (yaml.YAMLError, ValueError) as e:
        raise ConfigError(f"{where}: invalid YAML: {e}") from e


def read_yaml_file(path: Path, where: str) -> Any:
    """The value of the YAML file ``path``; :class:`ConfigError` starting with ``where`` if
    the file is missing, unreadable, not UTF-8 or not valid YAML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist; check the path") from None
    except OSError as e:
        raise ConfigError(f"{where} cannot be read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise ConfigError(
            f"{where} is not UTF-8: byte 0x{data[e.start]:02x} at byte position {e.start} "
            f"(line {line}, column {column}); save the file as UTF-8"
        ) from None
    return parse_yaml(text, where)
