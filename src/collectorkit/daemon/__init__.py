"""collectorkit.daemon: every source on its schedule, until SIGINT/SIGTERM.

``collectorkit run config.yaml`` is :func:`run_daemon` over :func:`build_runtime`; the pieces are
usable on their own: :class:`Schedule`/:class:`SourceTimer` (sans-I/O schedule decisions),
:class:`Scheduler` and :class:`Daemon` (signals, grace period), :class:`StatusServer`
(``/health``, ``/ready``, ``/metrics``, ``/status``, dashboard) and the jobs that run one source.
Names resolve lazily, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectorkit._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CollectorJob": "collectorkit.daemon._job",
    "Daemon": "collectorkit.daemon._daemon",
    "DaemonSettings": "collectorkit.daemon._daemon",
    "DevModeJob": "collectorkit.daemon._job",
    "NewAlerts": "collectorkit.daemon._job",
    "RunContext": "collectorkit.daemon._scheduler",
    "RunOutcome": "collectorkit.daemon._scheduler",
    "Runtime": "collectorkit.daemon._app",
    "RuntimeMetrics": "collectorkit.daemon._metrics",
    "Schedule": "collectorkit.daemon._schedule",
    "Scheduler": "collectorkit.daemon._scheduler",
    "SourceJob": "collectorkit.daemon._scheduler",
    "SourceStats": "collectorkit.daemon._metrics",
    "SourceTimer": "collectorkit.daemon._schedule",
    "StatusServer": "collectorkit.daemon._status",
    "StatusSettings": "collectorkit.daemon._status",
    "StreamJob": "collectorkit.daemon._job",
    "build_runtime": "collectorkit.daemon._app",
    "build_status_app": "collectorkit.daemon._status",
    "configure_logging": "collectorkit.daemon._logging",
    "render_prometheus": "collectorkit.daemon._metrics",
    "run_daemon": "collectorkit.daemon._app",
}

if TYPE_CHECKING:
    from collectorkit.daemon._app import (
        Runtime,
        build_runtime,
        run_daemon,
    )
    from collectorkit.daemon._daemon import (
        Daemon,
        DaemonSettings,
    )
    from collectorkit.daemon._job import (
        CollectorJob,
        DevModeJob,
        NewAlerts,
        StreamJob,
    )
    from collectorkit.daemon._logging import (
        configure_logging,
    )
    from collectorkit.daemon._metrics import (
        RuntimeMetrics,
        SourceStats,
        render_prometheus,
    )
    from collectorkit.daemon._schedule import (
        Schedule,
        SourceTimer,
    )
    from collectorkit.daemon._scheduler import (
        RunContext,
        RunOutcome,
        Scheduler,
        SourceJob,
    )
    from collectorkit.daemon._status import (
        StatusServer,
        StatusSettings,
        build_status_app,
    )

__all__ = [
    "CollectorJob",
    "Daemon",
    "DaemonSettings",
    "DevModeJob",
    "NewAlerts",
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
    "build_runtime",
    "build_status_app",
    "configure_logging",
    "render_prometheus",
    "run_daemon",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
