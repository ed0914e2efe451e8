"""``collectorkit once``: every source (or one) once, with live progress and a summary table.

The same jobs as the daemon — same resume, checkpoints, processed ids and callbacks — run side by
side once each. Ctrl-C stops them after the page in flight, like the daemon's first signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collectorkit._clock import SystemClock
from collectorkit._errors import CollectorError
from collectorkit.daemon._metrics import RuntimeMetrics, SourceStats
from collectorkit.daemon._scheduler import RunContext, RunOutcome, SourceJob, error_kind

if TYPE_CHECKING:
    from rich.console import Console

    from collectorkit.config._models import Config

__all__ = ["OnceResult", "run_jobs_once", "run_once", "run_once_sync", "summary_table"]

INTERRUPT_GRACE = 5.0
"""Seconds the pages in flight get to finish after the first Ctrl-C (SIGINT) before the run is
cancelled: whatever the server asked for (a long ``Retry-After``), ``once`` ends by then."""


@dataclass(frozen=True, slots=True)
class OnceResult:
    """One source's pass: its figures, how it ended, and how long it took."""

    stats: SourceStats
    outcome: RunOutcome | None
    error: BaseException | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


async def run_jobs_once(
    jobs: Sequence[SourceJob],
    metrics: RuntimeMetrics,
    *,
    console: Console | None = None,
    stopping: asyncio.Event | None = None,
) -> list[OnceResult]:
    """Run each job once, concurrently; live progress on ``console`` when given."""
    clock = SystemClock()
    stopping = stopping or asyncio.Event()

    async def one(job: SourceJob) -> OnceResult:
        stats = metrics.source(job.name)
        stats.state, stats.runs = "running", stats.runs + 1
        ctx = RunContext(stats=stats, clock=clock)
        forward = asyncio.create_task(_forward(stopping, ctx.stopping))
        started = time.perf_counter()
        try:
            outcome = await job.run(ctx)
        except Exception as exc:
            stats.runs_failed += 1
            stats.error(clock.time(), error_kind(exc), str(exc))
            stats.state = "failed"
            return OnceResult(stats, None, exc, time.perf_counter() - started)
        finally:
            forward.cancel()
        stats.state = "done"
        if outcome.stop_reason:
            stats.last_stop_reason = outcome.stop_reason
            stats.stop_reasons[outcome.stop_reason] += 1
        return OnceResult(stats, outcome, None, time.perf_counter() - started)

    runs = asyncio.gather(*(one(job) for job in jobs))
    try:
        if console is None:
            return list(await runs)
        return await _with_progress(runs, [j.name for j in jobs], metrics, console)
    finally:
        if not runs.done():  # cancelled (a second Ctrl-C): abandon the pages in flight
            runs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runs


async def _forward(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def _with_progress(
    runs: asyncio.Future[list[OnceResult]],
    names: list[str],
    metrics: RuntimeMetrics,
    console: Console,
) -> list[OnceResult]:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(bar_width=None),
        TextColumn("{task.fields[records]:>8} records · {task.fields[pages]:>4} pages"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {n: progress.add_task(n, total=None, records=0, pages=0, note="") for n in names}
        while not runs.done():
            _refresh(progress, tasks, metrics)
            await asyncio.wait([runs], timeout=0.1)
        _refresh(progress, tasks, metrics, final=True)
    return runs.result()


def _refresh(
    progress: Any, tasks: dict[str, Any], metrics: RuntimeMetrics, *, final: bool = False
) -> None:
    for name, task in tasks.items():
        s = metrics.source(name)
        note = f"[yellow]{s.http_429} × 429[/]" if s.http_429 else ""
        if s.state == "failed":
            note = f"[red]{s.last_error}[/]"
        elif s.dev_mode:
            note = "[cyan]dev mode: API not called[/]"
        done = final or s.state in ("done", "failed")
        progress.update(
            task,
            records=s.records,
            pages=s.pages,
            note=note,
            total=1 if done else None,
            completed=1 if done else 0,
        )


def summary_table(results: Sequence[OnceResult], *, title: str = "summary") -> Any:
    """A rich table: one row per source, plus a total row when there are several."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("source", no_wrap=True)
    for column in ("records", "pages", "429", "retries", "errors", "time", "rec/s"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("stopped", overflow="fold")
    for r in results:
        s = r.stats
        errors = ", ".join(f"{k}: {n}" for k, n in sorted(s.errors.items())) or "0"
        reason = (s.last_stop_reason or "").replace("_", " ")
        if r.error is not None:
            reason = f"[red]failed: {_short(r.error)}[/]"
        rate = s.records / r.seconds if r.seconds > 0 else 0.0
        table.add_row(
            s.name, str(s.records), str(s.pages), str(s.http_429),
            str(s.retries), errors, f"{r.seconds:.2f}s", f"{rate:,.0f}", reason,
        )  # fmt: skip
    if len(results) > 1:
        total = sum(r.stats.records for r in results)
        wall = max(r.seconds for r in results)
        table.add_row(
            "[bold]total", str(total), str(sum(r.stats.pages for r in results)),
            str(sum(r.stats.http_429 for r in results)),
            str(sum(r.stats.retries for r in results)),
            str(sum(sum(r.stats.errors.values()) for r in results)),
            f"{wall:.2f}s", f"{total / wall if wall else 0:,.0f}", "",
        )  # fmt: skip
    return table


def _short(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, CollectorError) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 120 else text[:117] + "…"


async def run_once(
    config: Config,
    *,
    source: str | None = None,
    console: Console | None = None,
    debug: bool = False,
) -> list[OnceResult]:
    """Build the runtime, run every (or one) source once, save, close."""
    from collectorkit.daemon._app import build_runtime
    from collectorkit.http._redact import get_logger

    runtime = await build_runtime(
        config, only=source, log=get_logger("collectorkit.cli.once"), diagnostic=debug
    )
    metrics = RuntimeMetrics(started_at=time.time(), mode="once")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def interrupt() -> None:  # first Ctrl-C: stop after the page, within the grace; second: now
        if main is not None:
            if stopping.is_set():
                main.cancel()
            else:  # a page may be waiting on the server (Retry-After): it gets the grace, no more
                loop.call_later(INTERRUPT_GRACE, main.cancel)
        stopping.set()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        for name in runtime.dev_mode:
            metrics.source(name).dev_mode = True
        return await run_jobs_once(runtime.jobs, metrics, console=console, stopping=stopping)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
        await runtime.save()
        await runtime.aclose()


def run_once_sync(config: Config, *, source: str | None = None, debug: bool = False) -> int:
    """``collectorkit once``: exit code 0 when every source succeeded, 1 otherwise."""
    from rich.console import Console

    from collectorkit.daemon._logging import configure_logging, print_command_error

    console = Console()
    configure_logging(level="debug" if debug else "warning")
    try:
        results = asyncio.run(run_once(config, source=source, console=console, debug=debug))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("interrupted")
        return 130
    except (KeyError, CollectorError) as exc:
        return print_command_error(console, exc)
    console.print(summary_table(results, title=f"collectorkit once — state in {config.state}"))
    return 0 if all(r.ok for r in results) else 1
