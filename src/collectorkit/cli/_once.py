"""``collectorkit once``: every source (or one) once, with live progress and a summary table.

The same jobs as the daemon — same resume, checkpoints, processed ids and callbacks — run side by
side once each. Ctrl-C stops them after the page in flight, like the daemon's first signal.

Below the table come, in full, why a source failed (with the response body of the failed
request, redacted and bounded), what the self-checks found (a source whose configuration does
not match the responses: the command exits 1 though nothing failed), and where the records
went, with a command to look at them.
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
from collectorkit._redact import redact, redact_body
from collectorkit.daemon._metrics import RuntimeMetrics, SourceStats
from collectorkit.daemon._scheduler import RunContext, RunOutcome, SourceJob, error_kind

if TYPE_CHECKING:
    from rich.console import Console

    from collectorkit.config._models import Config

__all__ = [
    "OnceResult",
    "print_details",
    "run_jobs_once",
    "run_once",
    "run_once_sync",
    "summary_table",
]

_BODY_LIMIT = 2048
"""How much of a failed request's response body ``once`` shows."""

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
    sinks: tuple[tuple[str, str], ...] = ()
    """Where the source's records went: (sink type, location) per sink."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def suspect(self) -> bool:
        """The self-checks found the configuration does not match the responses."""
        return bool(self.stats.findings)

    @property
    def rejected(self) -> int:
        """Records the pipeline rejected (kept in the dead letter): errors of the run."""
        return self.stats.errors.get("dead_letter", 0)


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
        sinks = tuple(
            (type(s).__name__, str(getattr(s, "location", ""))) for s in getattr(job, "sinks", ())
        )
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
            return OnceResult(stats, None, exc, time.perf_counter() - started, sinks)
        finally:
            forward.cancel()
        stats.state = "done"
        if outcome.stop_reason:
            stats.last_stop_reason = outcome.stop_reason
            stats.stop_reasons[outcome.stop_reason] += 1
        return OnceResult(stats, outcome, None, time.perf_counter() - started, sinks)

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
            note = "[red]failed (see below)[/]"
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


def summary_table(
    results: Sequence[OnceResult], *, title: str = "summary", console: Console | None = None
) -> Any:
    """A rich table: one row per source, plus a total row when there are several. When the
    table would not fit ``console``'s width, why each source stopped goes below it in full
    instead of being squeezed into a column."""
    table = _summary_table(results, title=title, stopped_column=True)
    if console is not None:
        from rich.measure import Measurement

        natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
        if natural > console.width:
            table = _summary_table(results, title=title, stopped_column=False)
    return table


def _stop_reason(r: OnceResult) -> str:
    if r.error is not None:
        return f"[red]failed: {error_kind(r.error)}[/]"
    if r.suspect:
        return "[yellow]suspect[/]"
    return (r.stats.last_stop_reason or "").replace("_", " ")


def _summary_table(results: Sequence[OnceResult], *, title: str, stopped_column: bool) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    notes = []
    if not stopped_column:
        notes.append(
            "stopped: " + " · ".join(f"{r.stats.name}: {_stop_reason(r)}" for r in results)
        )
    if any(not r.ok or r.suspect for r in results):
        notes.append("why a source failed or is suspect: below")
    if notes:
        table.caption = "\n".join(notes)
    table.add_column("source", no_wrap=True)
    for column in ("records", "new", "dup", "pages", "429/retry", "errors", "time", "rec/s"):
        table.add_column(column, justify="right", no_wrap=True)
    if stopped_column:
        table.add_column("stopped", overflow="fold", min_width=7)
    for r in results:
        s = r.stats
        errors = ", ".join(f"{k}: {n}" for k, n in sorted(s.errors.items())) or "0"
        rate = s.records / r.seconds if r.seconds > 0 else 0.0
        table.add_row(
            s.name, str(s.records), str(s.stored), str(s.duplicates), str(s.pages),
            f"{s.http_429}/{s.retries}", errors, f"{r.seconds:.2f}s", f"{rate:,.0f}",
            *([_stop_reason(r)] if stopped_column else []),
        )  # fmt: skip
    if len(results) > 1:
        total = sum(r.stats.records for r in results)
        wall = max(r.seconds for r in results)
        table.add_row(
            "[bold]total", str(total), str(sum(r.stats.stored for r in results)),
            str(sum(r.stats.duplicates for r in results)),
            str(sum(r.stats.pages for r in results)),
            f"{sum(r.stats.http_429 for r in results)}/{sum(r.stats.retries for r in results)}",
            str(sum(sum(r.stats.errors.values()) for r in results)),
            f"{wall:.2f}s", f"{total / wall if wall else 0:,.0f}",
            *([""] if stopped_column else []),
        )  # fmt: skip
    return table


def print_details(results: Sequence[OnceResult], console: Console) -> None:
    """Below the table, in full: failures (with the response body), findings, destinations."""
    for r in results:
        name = r.stats.name
        if r.error is not None:
            console.print(f"[red bold]{name} failed:[/] {_reason(r.error)}", highlight=False)
            body = response_body(r.error)
            if body is not None:
                console.print(f"  response body (redacted, at most {_BODY_LIMIT} bytes):")
                console.out(body, highlight=False)
        for finding in r.stats.findings:
            console.print(
                f"[yellow bold]{name} suspect:[/] {finding['text']}",
                highlight=False,
                soft_wrap=True,
            )
            if finding["candidates"]:
                key = str(finding["path"]).rsplit(".", 1)[-1]
                console.out(f"  try {key}: {finding['candidates'][0]}", highlight=False)
        if r.rejected:
            kept = next(
                (
                    e["message"]
                    for e in reversed(r.stats.recent_errors)
                    if e["kind"] == "dead_letter"
                ),
                f"{r.rejected} record(s) rejected by the pipeline",
            )
            console.print(f"[red bold]{name} rejected:[/] {kept}", highlight=False, soft_wrap=True)
        if r.stats.callbacks_pending:
            console.print(
                f"[yellow bold]{name} callbacks:[/] {r.stats.callbacks_pending} alert(s) wait in "
                f"the callback outbox ({r.stats.last_error}); the next run tries again",
                highlight=False,
                soft_wrap=True,
            )
    places = {place for r in results for place in r.sinks}
    for kind, location in sorted(places):
        console.out(f"records went to {kind} {location}{_query_hint(kind, location)}")


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, CollectorError) else f"{type(exc).__name__}: {exc}"
    return str(redact(text))


def response_body(exc: BaseException, limit: int = _BODY_LIMIT) -> str | None:
    """The body of the response ``exc`` carries, redacted and cut at ``limit`` characters."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    if not isinstance(content, bytes) or not content:
        return None
    text = redact_body(getattr(response, "body", ""), limit + 1, pretty=True)
    if len(text) > limit:
        text = f"{text[:limit]}\n… ({len(content)} bytes in all)"
    return text


def _query_hint(kind: str, location: str) -> str:
    """How to look at the records in a destination, where there is one obvious command."""
    where, _, table = location.partition("#")
    # commands to print, never run here; the sinks validated their table names
    query = f"select source, count(*) from {table} group by source"  # noqa: S608
    if kind == "SQLiteSink" and where.startswith("sqlite://"):
        return f"\n  query them: sqlite3 {where.removeprefix('sqlite://')} '{query}'"
    if kind == "PostgresSink" and table:
        return f"\n  query them: psql \"{where}\" -c '{query}'"
    if kind in ("JSONLSink", "JSONFileSink"):
        return f"\n  look at them: ls -R {where.split('{', 1)[0] or '.'}"
    return ""


async def run_once(
    config: Config,
    *,
    source: str | None = None,
    console: Console | None = None,
    debug: bool = False,
    reset_state: bool = False,
) -> list[OnceResult]:
    """Build the runtime, run every (or one) source once, save, close."""
    from collectorkit.daemon._app import build_runtime
    from collectorkit.http._redact import get_logger

    runtime = await build_runtime(
        config,
        only=source,
        log=get_logger("collectorkit.cli.once"),
        diagnostic=debug,
        reset_state=reset_state,
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
        runtime.attach_metrics(metrics)
        results = await run_jobs_once(runtime.jobs, metrics, console=console, stopping=stopping)
        await runtime.flush_callbacks()
        return results
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
        await runtime.save()
        await runtime.aclose()


def run_once_sync(
    config: Config, *, source: str | None = None, debug: bool = False, reset_state: bool = False
) -> int:
    """``collectorkit once``: exit code 0 when every source succeeded and its self-checks found
    nothing, 1 otherwise."""
    from rich.console import Console

    from collectorkit.daemon._logging import configure_logging, print_command_error

    console = Console()
    configure_logging(level="debug" if debug else "warning")
    try:
        results = asyncio.run(
            run_once(config, source=source, console=console, debug=debug, reset_state=reset_state)
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("interrupted")
        return 130
    except (KeyError, CollectorError) as exc:
        return print_command_error(console, exc)
    title = f"collectorkit once — state in {config.state}"
    console.print(summary_table(results, title=title, console=console))
    print_details(results, console)
    return 0 if all(r.ok and not r.suspect and not r.rejected for r in results) else 1
