"""The registries a configuration file names, one per extension point, owned by their layers.

=================  ==============================================  ====================
YAML               registry (name → builder)                        its options
=================  ==============================================  ====================
``auth.type``      :data:`collectorkit.http._auth_kinds.AUTH_KINDS`  the handler's params
``pagination``     :data:`collectorkit.collect._pagination.PAGINATION_MODES`  that mode's fields
``sinks[].type``   :data:`collectorkit.sinks.SINKS`                  the factory's params
``pipeline[]``     :data:`collectorkit.pipeline.PROCESSORS`          the factory's params
``state``          :data:`collectorkit.state.STATE_STORE_SCHEMES`    (a URL)
=================  ==============================================  ====================

Each is a :class:`collectorkit._registry.Registry`; plug-ins register with the layer
(``register_sink``, ``register_processor``, ``register_state_store``, ``AUTH_KINDS.register``)
and nothing here keeps a second list of names. An unknown name gets the registry's one error
(:func:`check_name`). :func:`options_schema`
gives the JSON Schema of an entry's options from its builder's signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticCustomError

from collectorkit._registry import Registry
from collectorkit.config._objects import options_model
from collectorkit.pipeline import PROCESSORS
from collectorkit.sinks import SINKS
from collectorkit.state import STATE_STORE_SCHEMES

__all__ = [
    "check_name",
    "known_processor_names",
    "known_sink_types",
    "known_state_schemes",
    "options_schema",
]


def check_name(registry: Registry[Any], name: str) -> str:
    """``name`` if ``registry`` knows it, else the registry's one unknown-name error, placed at
    the field being validated."""
    if name not in registry:
        reason = registry.unknown(name).reason
        raise PydanticCustomError("config_error", "{reason}", {"reason": reason})
    return name


def known_sink_types() -> list[str]:
    """Every sink ``type`` the loader accepts, sorted."""
    return sorted(SINKS)


def known_processor_names() -> list[str]:
    """Every processor name a pipeline step may use, sorted."""
    return sorted(PROCESSORS)


def known_state_schemes() -> list[str]:
    """Every URL scheme the ``state`` setting accepts, sorted."""
    return sorted(STATE_STORE_SCHEMES)


def options_schema(build: Callable[..., Any], *, tag: str, name: str) -> dict[str, Any]:
    """The JSON Schema of ``{tag: name, ...options of build}`` (open when it takes ``**options``).

    Parameters that are objects rather than settings (a clock, a client) are left out.
    """
    try:
        model = options_model(build, tag=tag, name=name)
        schema = model.model_json_schema(mode="validation")
    except Exception:  # a plug-in whose signature cannot be read: only its name is known
        schema = {"type": "object", "properties": {tag: {"const": name}}, "required": [tag]}
    if _takes_any_option(build):
        schema["additionalProperties"] = True  # the factory checks them when the file loads
    return schema


def _takes_any_option(build: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_KEYWORD for p in parameters)
