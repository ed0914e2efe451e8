"""collectorkit.delivery: the exactly-once loop (source → pipeline → sinks ack → checkpoint).

:func:`collect_into` / :func:`collect_into_sync` collect a blueprint into sinks exactly once,
resuming from the last checkpoint — the library's few-lines entry point, and what the daemon's
jobs run. :func:`deliver` drives any source of pages through a pipeline into sinks and saves each
page's checkpoint only after every sink acknowledged it; :func:`checkpoint_sink_for` decides
whether a transactional sink or the state store saves it. :class:`ProcessedIds` /
:class:`PersistentProcessedIds` remember the ids already handed to the new-record callbacks
(seed 002), which run after the checkpoint. Names resolve lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectorkit._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AlertCallback": "collectorkit.delivery._callbacks",
    "CommandCallback": "collectorkit.delivery._callbacks",
    "DEFAULT_CHECKPOINT_NAMESPACE": "collectorkit.delivery._checkpoint",
    "DeliveryReport": "collectorkit.delivery._loop",
    "PersistentProcessedIds": "collectorkit.delivery._processed",
    "ProcessedIds": "collectorkit.delivery._processed",
    "PythonCallback": "collectorkit.delivery._callbacks",
    "WebhookCallback": "collectorkit.delivery._callbacks",
    "callback_from_spec": "collectorkit.delivery._callbacks",
    "checkpoint_sink_for": "collectorkit.delivery._checkpoint",
    "collect_into": "collectorkit.delivery._collect",
    "collect_into_sync": "collectorkit.delivery._collect",
    "deliver": "collectorkit.delivery._loop",
    "read_checkpoint": "collectorkit.delivery._checkpoint",
}

if TYPE_CHECKING:
    from collectorkit.delivery._callbacks import (
        AlertCallback,
        CommandCallback,
        PythonCallback,
        WebhookCallback,
        callback_from_spec,
    )
    from collectorkit.delivery._checkpoint import (
        DEFAULT_CHECKPOINT_NAMESPACE,
        checkpoint_sink_for,
        read_checkpoint,
    )
    from collectorkit.delivery._collect import collect_into, collect_into_sync
    from collectorkit.delivery._loop import DeliveryReport, deliver
    from collectorkit.delivery._processed import (
        PersistentProcessedIds,
        ProcessedIds,
    )

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "AlertCallback",
    "CommandCallback",
    "DEFAULT_CHECKPOINT_NAMESPACE",
    "DeliveryReport",
    "PersistentProcessedIds",
    "ProcessedIds",
    "PythonCallback",
    "WebhookCallback",
    "callback_from_spec",
    "checkpoint_sink_for",
    "collect_into",
    "collect_into_sync",
    "deliver",
    "read_checkpoint",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
