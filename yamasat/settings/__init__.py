"""Configuration: ``config/yamasat.yaml``, its override layers, and the frozen objects it becomes.

Three layers, each deep-merged over the previous one (mappings merge key by key; lists and
values are replaced):

1. the default file: ``base`` if given, else :func:`default_config_path`;
2. an override file: the ``override`` argument, else the file named by ``$YAMASAT_CONFIG``;
3. environment variables ``YAMASAT_<SECTION>__<KEY>[__<SUBKEY>]``, for example
   ``YAMASAT_STORAGE__OUTPUT_ROOT=/data/out``, ``YAMASAT_MASKING__SCL_MASK_CLASSES=[0,3,8,9]``,
   ``YAMASAT_SOURCES__EARTH_SEARCH__LOCATION=https://...``. Names are case-insensitive; in a
   mapping key (a source or deployment name) ``_`` stands for ``-``. A value is read as one
   YAML value (``10``, ``true``, ``null``, ``[1, 2]``); for a text or path key, a value that
   YAML reads as something other than text or null is taken exactly as written. ``YAMASAT_*``
   names without ``__`` (such as ``YAMASAT_CONFIG``, or secrets) are not configuration keys
   and are left alone.

Relative paths become absolute while loading: those of the default file and of environment
variables against the working directory, those of an override file against its folder.

Every problem found raises one :class:`~yamasat.errors.ConfigError` that lists them all, each
with the file or environment variable it came from, the dotted key, the value and what is
expected. YAML is read with a safe loader that also refuses duplicate keys: nothing in a file
is executed.

Modules: :mod:`.models` (the frozen models), :mod:`.fields` (field types and validators),
:mod:`.layers` (reading and layering), :mod:`.schema` (key paths in the models),
:mod:`.problems` (error wording), :mod:`.yaml_files` (the safe YAML reader) and
:mod:`.redaction` (secret masking).
"""

from __future__ import annotations

from . import models
from .fields import ConfigDate, ConfigPath
from .layers import ENV_CONFIG, ENV_PREFIX, default_config_path, load_settings
from .models import *  # noqa: F403  (the models: exactly models.__all__, re-exported below)
from .redaction import masked
from .yaml_files import parse_yaml

__all__ = [
    "ENV_CONFIG",
    "ENV_PREFIX",
    "ConfigDate",
    "ConfigPath",
    "default_config_path",
    "load_settings",
    "masked",
    "parse_yaml",
]
__all__ += models.__all__
