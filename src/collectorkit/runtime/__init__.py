"""collectorkit.runtime: the poller daemon — configuration, scheduler, jobs, status server.

``collectorkit run config.yaml`` is :func:`run_daemon` over :func:`build_runtime`; the pieces are
usable on their own: :class:`Schedule`/:class:`SourceTimer` (sans-I/O schedule decisions),
:class:`Scheduler` and :class:`Daemon` (signals, grace period), :class:`StatusServer`
(``/health``, ``/ready``, ``/metrics``, ``/status``, dashboard), seed 002's
:class:`PersistentProcessedIds` and alert callbacks. Names resolve lazily, so importing this
package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "CollectorJob": "collectorkit.runtime._job",
    "CommandCallback": "collectorkit.runtime._hooks",
    "Daemon": "collectorkit.runtime._daemon",
    "DaemonSettings": "collectorkit.runtime._daemon",
    "DevModeJob": "collectorkit.runtime._job",
    "NewAlerts": "collectorkit.runtime._job",
    "PersistentProcessedIds": "collectorkit.runtime._dedup",
    "ProcessedIds": "collectorkit.runtime._dedup",
    "PythonCallback": "collectorkit.runtime._hooks",
    "RunContext": "collectorkit.runtime._scheduler",
    "RunOutcome": "collectorkit.runtime._scheduler",
    "Runtime": "collectorkit.runtime._app",
    "RuntimeMetrics": "collectorkit.runtime._metrics",
    "Schedule": "collectorkit.runtime._schedule",
    "Scheduler": "collectorkit.runtime._scheduler",
    "SourceJob": "collectorkit.runtime._scheduler",
    "SourceStats": "collectorkit.runtime._metrics",
    "SourceTimer": "collectorkit.runtime._schedule",
    "StatusServer": "collectorkit.runtime._status",
    "StatusSettings": "collectorkit.runtime._status",
    "StreamJob": "collectorkit.runtime._job",
    "WebhookCallback": "collectorkit.runtime._hooks",
    "build_runtime": "collectorkit.runtime._app",
    "build_status_app": "collectorkit.runtime._status",
    "callback_from_spec": "collectorkit.runtime._hooks",
    "config_from_env": "collectorkit.runtime._config_env",
    "configure_logging": "collectorkit.runtime._logging",
    "deliver": "collectorkit.runtime._delivery",
    "load_config": "collectorkit.runtime._config",
    "render_prometheus": "collectorkit.runtime._metrics",
    "run_daemon": "collectorkit.runtime._app",
    "run_once": "collectorkit.runtime._once",
}

if TYPE_CHECKING:
    from collectorkit.runtime._app import Runtime, build_runtime, run_daemon
    from collectorkit.runtime._config import load_config
    from collectorkit.runtime._config_env import config_from_env
    from collectorkit.runtime._daemon import Daemon, DaemonSettings
    from collectorkit.runtime._dedup import PersistentProcessedIds, ProcessedIds
    from collectorkit.runtime._delivery import deliver
    from collectorkit.runtime._hooks import (
        CommandCallback,
        PythonCallback,
        WebhookCallback,
        callback_from_spec,
    )
    from collectorkit.runtime._job import CollectorJob, DevModeJob, NewAlerts, StreamJob
    from collectorkit.runtime._logging import configure_logging
    from collectorkit.runtime._metrics import RuntimeMetrics, SourceStats, render_prometheus
    from collectorkit.runtime._once import run_once
    from collectorkit.runtime._schedule import Schedule, SourceTimer
    from collectorkit.runtime._scheduler import RunContext, RunOutcome, Scheduler, SourceJob
    from collectorkit.runtime._status import StatusServer, StatusSettings, build_status_app

__all__ = [
    "CollectorJob",
    "CommandCallback",
    "Daemon",
    "DaemonSettings",
    "DevModeJob",
    "NewAlerts",
    "PersistentProcessedIds",
    "ProcessedIds",
    "PythonCallback",
    "RunContext",
    "RunOutcome",
    "Runtime",
    "RuntimeMetrics",
    "Schedule",
    "Scheduler",
    "SourceJob",
    "SourceStats",
    "SourceTimer",
    "StatusServer",
    "StatusSettings",
    "StreamJob",
    "WebhookCallback",
    "build_runtime",
    "build_status_app",
    "callback_from_spec",
    "config_from_env",
    "configure_logging",
    "deliver",
    "load_config",
    "render_prometheus",
    "run_daemon",
    "run_once",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectorkit.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
