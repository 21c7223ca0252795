"""Masking secrets in what is shown: values of secret-looking keys and URL credentials.

Used by ``Settings.describe()``, the settings' ``repr`` and every configuration error message.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "URL_RE", "looks_secret", "mask_url", "masked"]

URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""Text that begins with a URL scheme (``https://``, ``sqlite://``, ...)."""
MASK = "***"
"""What a masked value is shown as."""
_SECRET_WORD_RE = re.compile(r"token|password|passwd|secret|credential|apikey|api_key", re.I)
_SECRET_PART_RE = re.compile(r"(?:^|[_\-.])(?:keys?|pwd|sig|signature)(?:$|[_\-.])", re.I)


def looks_secret(key: object) -> bool:
    """Whether a key's name says its value is secret (token, password, key, signature...)."""
    text = str(key)
    return bool(_SECRET_WORD_RE.search(text) or _SECRET_PART_RE.search(text))


def mask_url(text: str) -> str:
    """``text`` with a URL password and secret-looking query values replaced by ``***``."""
    if not URL_RE.match(text):
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    netloc = parts.netloc
    if password is not None:
        user, _, hostport = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{MASK}@{hostport}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, MASK if looks_secret(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query or parts.query, parts.fragment))


def masked(value: Any, key: object = None) -> Any:
    """A copy of ``value`` (a mapping, list or scalar) with every secret masked; ``key`` is
    the name ``value`` was found under."""
    if key is not None and value is not None and looks_secret(key):
        return MASK
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return mask_url(value) if isinstance(value, str) else value
