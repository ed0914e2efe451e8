"""collectorkit.config: a YAML file (or a dict) in, the library's own objects out.

:func:`load_config` reads, resolves ``${ENV}``/``${file:}`` references and validates, raising one
:class:`ConfigValidationError` that names every problem by its YAML path; the ``build_*`` functions
turn a validated source into a blueprint, a data source, a pipeline, sinks and a state store.
:func:`config_from_env` is seed 002's configuration from ``XDR_*`` variables. Names resolve lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Config": "collectorkit.config._models",
    "ConfigValidationError": "collectorkit.config._issues",
    "DefaultsConfig": "collectorkit.config._models",
    "SinkConfig": "collectorkit.config._models",
    "SourceConfig": "collectorkit.config._source",
    "StatusConfig": "collectorkit.config._models",
    "build_auth": "collectorkit.config._build",
    "build_blueprint": "collectorkit.config._build",
    "build_dead_letter": "collectorkit.config._build",
    "build_pipeline_for": "collectorkit.config._build",
    "build_sinks": "collectorkit.config._build",
    "build_source": "collectorkit.config._build",
    "check_config": "collectorkit.config._build",
    "config_from_env": "collectorkit.config._xdr_env",
    "config_json_schema": "collectorkit.config._schema",
    "connector_blueprint": "collectorkit.config._connectors",
    "load_config": "collectorkit.config._load",
    "open_state": "collectorkit.config._build",
    "parse_duration": "collectorkit.config._types",
}

if TYPE_CHECKING:
    from collectorkit.config._build import (
        build_auth,
        build_blueprint,
        build_dead_letter,
        build_pipeline_for,
        build_sinks,
        build_source,
        check_config,
        open_state,
    )
    from collectorkit.config._connectors import (
        connector_blueprint,
    )
    from collectorkit.config._issues import (
        ConfigValidationError,
    )
    from collectorkit.config._load import (
        load_config,
    )
    from collectorkit.config._models import (
        Config,
        DefaultsConfig,
        SinkConfig,
        StatusConfig,
    )
    from collectorkit.config._schema import (
        config_json_schema,
    )
    from collectorkit.config._source import (
        SourceConfig,
    )
    from collectorkit.config._types import (
        parse_duration,
    )
    from collectorkit.config._xdr_env import (
        config_from_env,
    )

__all__ = [
    "Config",
    "ConfigValidationError",
    "DefaultsConfig",
    "SinkConfig",
    "SourceConfig",
    "StatusConfig",
    "build_auth",
    "build_blueprint",
    "build_dead_letter",
    "build_pipeline_for",
    "build_sinks",
    "build_source",
    "check_config",
    "config_from_env",
    "config_json_schema",
    "connector_blueprint",
    "load_config",
    "open_state",
    "parse_duration",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectorkit.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
