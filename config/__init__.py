"""closedloop settings: the schema, the loader and the example config.

Typical use::

    from closedloop.config import load_settings
    settings = load_settings("closedloop.yaml")   # raises ConfigError listing every problem
    settings.hubspot.base_url
"""

from __future__ import annotations

from closedloop.config.loader import find_config_file, load_settings
from closedloop.config.schema import Settings

__all__ = ["Settings", "find_config_file", "load_settings"]
