"""collectorkit.delivery: the exactly-once loop (source → pipeline → sinks ack → checkpoint).

:func:`deliver` drives one data source through a pipeline into sinks and saves each page's
checkpoint only after every sink acknowledged it. :class:`ProcessedIds` /
:class:`PersistentProcessedIds` remember the ids already handed to the new-record callbacks
(seed 002), which run after the checkpoint. Names resolve lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "AlertCallback": "collectorkit.delivery._callbacks",
    "CommandCallback": "collectorkit.delivery._callbacks",
    "DEFAULT_CHECKPOINT_NAMESPACE": "collectorkit.delivery._loop",
    "DeliveryReport": "collectorkit.delivery._loop",
    "PersistentProcessedIds": "collectorkit.delivery._processed",
    "ProcessedIds": "collectorkit.delivery._processed",
    "PythonCallback": "collectorkit.delivery._callbacks",
    "WebhookCallback": "collectorkit.delivery._callbacks",
    "callback_from_spec": "collectorkit.delivery._callbacks",
    "deliver": "collectorkit.delivery._loop",
}

if TYPE_CHECKING:
    from collectorkit.delivery._callbacks import (
        AlertCallback,
        CommandCallback,
        PythonCallback,
        WebhookCallback,
        callback_from_spec,
    )
    from collectorkit.delivery._loop import (
        DEFAULT_CHECKPOINT_NAMESPACE,
        DeliveryReport,
        deliver,
    )
    from collectorkit.delivery._processed import (
        PersistentProcessedIds,
        ProcessedIds,
    )

__all__ = [
    "DEFAULT_CHECKPOINT_NAMESPACE",
    "AlertCallback",
    "CommandCallback",
    "DeliveryReport",
    "PersistentProcessedIds",
    "ProcessedIds",
    "PythonCallback",
    "WebhookCallback",
    "callback_from_spec",
    "deliver",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectorkit.delivery' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
