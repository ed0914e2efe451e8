"""collectorkit.connectors: vendor APIs as data — definition files, options, named hooks.

A source names a connector and gives only what is the user's (``base_url``, ``auth``,
``options``); the definition supplies the rest and every setting can be overridden. The
configuration layer expands and validates such a source with the same model as any other
(:func:`collectorkit.connector_blueprint` does it from the library).
"""

from __future__ import annotations

from collectorkit.connectors._catalogue import (
    BUILTIN_DIR,
    ENTRY_POINT_GROUP,
    connector_catalogue,
    get_connector,
    read_connector_file,
)
from collectorkit.connectors._definition import Connector, OptionSpec, merge_under
from collectorkit.connectors._hooks import (
    HOOKS,
    ConnectorHook,
    HookContext,
    XDRAdvancedKeyAuthHandler,
    apply_hooks,
)

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "BUILTIN_DIR",
    "Connector",
    "ConnectorHook",
    "ENTRY_POINT_GROUP",
    "HOOKS",
    "HookContext",
    "OptionSpec",
    "XDRAdvancedKeyAuthHandler",
    "apply_hooks",
    "connector_catalogue",
    "get_connector",
    "merge_under",
    "read_connector_file",
]
