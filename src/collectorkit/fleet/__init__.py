"""collectorkit.fleet: ``collectorkit worker`` processes sharing the sources through PostgreSQL.

A dispatcher defers one job per due source (one lock per source), a fencing epoch per source
refuses a paused worker's late commits, stalled workers' sources are queued again, and the
engine (Procrastinate) sits behind :class:`FleetEngine`.
"""

from collectorkit.fleet._dispatch import SourceTiming, due_sources
from collectorkit.fleet._engine import EngineSettings, FleetEngine, ProcrastinateEngine
from collectorkit.fleet._fencing import FencedStateStore
from collectorkit.fleet._view import FleetView
from collectorkit.fleet._worker import FleetWorker, coordination_url, run_worker

__all__ = [
    "EngineSettings",
    "FencedStateStore",
    "FleetEngine",
    "FleetView",
    "FleetWorker",
    "ProcrastinateEngine",
    "SourceTiming",
    "coordination_url",
    "due_sources",
    "run_worker",
]
