"""``collectorkit worker``: one worker of a fleet sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectorkit.config._models import Config

__all__ = ["WORKER_HELP", "run_worker_sync"]

WORKER_HELP = "\n\n".join(
    (
        (
            "Run one worker of a fleet: many workers, one PostgreSQL, each source on one worker "
            "at a time."
        ),
        (
            "Deploy N workers (any machines) with the same configuration file; they meet in the "
            "PostgreSQL database of `coordination:` (default: a PostgreSQL `state:`, which is "
            "required: checkpoints are fenced in it). A dispatcher tick, deferred once per "
            "`fleet.dispatch_every` seconds across the fleet, queues one job per due source (lock"
            " per source). Each run bumps the source's fencing epoch: a paused or cut-off worker "
            "that comes back has its checkpoint refused (FencedError) and nothing is written "
            "twice. A worker silent for `fleet.stalled_after` seconds (heartbeat every "
            "`fleet.heartbeat`) is stalled: its sources are queued again and resume from their "
            "last committed page."
        ),
        (
            "Behind PgBouncer, use session pooling (transaction pooling breaks LISTEN/NOTIFY and "
            "advisory locks). Retention: workers delete successful jobs from the jobs table "
            "(procrastinate_jobs) and keep failed ones for inspection (`fleet.delete_jobs`: "
            "successful, always or never); prune old failed jobs with DELETE FROM "
            "procrastinate_jobs WHERE status = 'failed' AND scheduled_at < now() - interval "
            "'7 days'. /status and /metrics of any worker show the fleet: which "
            "worker holds which source, the last run, and the stalls recovered. `collectorkit "
            "run` remains the single-process mode."
        ),
    )
)


def run_worker_sync(
    config: Config, *, name: str | None, status_port: int | None, debug: bool
) -> int:
    """Configure logging, then run one worker until SIGINT/SIGTERM; the exit code."""
    from collectorkit.daemon._logging import configure_logging
    from collectorkit.fleet import run_worker

    configure_logging(level="debug" if debug else config.log_level)
    if not debug:  # the engine's per-job lines; ours say which source ran where
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    try:
        return asyncio.run(run_worker(config, name=name, status_port=status_port, debug=debug))
    except KeyboardInterrupt:  # before the worker's own handlers were installed
        return 130
