"""``collectorkit preview``: the quickest way to get a new source's configuration right.

Fetches the first page or two of one source, runs the records through the source's pipeline,
and shows them as the sinks would receive them (idempotency key and record), what went to
dead-letter and why, and the request the collector would send next. Nothing is written: no sink
is opened, no state is saved. What the self-checks find (a path of the configuration that does
not match the responses) is shown with the paths the responses suggest, and makes the command
exit 1.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectorkit._errors import CollectorError
from collectorkit._records import Envelope, record_key

if TYPE_CHECKING:
    from rich.console import Console

    from collectorkit.collect import CollectorBlueprint, CollectorState, Finding, RequestSpec
    from collectorkit.config._models import Config

__all__ = ["PreviewPage", "PreviewResult", "next_request", "preview", "preview_sync"]


@dataclass(slots=True)
class PreviewPage:
    number: int
    envelopes: list[Envelope]
    dead: list[tuple[str, str]] = field(default_factory=list)
    dropped: int = 0


@dataclass(slots=True)
class PreviewResult:
    source: str
    pages: list[PreviewPage] = field(default_factory=list)
    next: RequestSpec | None = None
    stop_reason: str | None = None
    state: dict[str, Any] | None = None
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)


def next_request(blueprint: CollectorBlueprint, state: CollectorState) -> RequestSpec:
    """The request the collector sends from ``state``: window filter, then the paging position."""
    return blueprint.request.next_request(state)


async def preview(
    config: Config, *, source: str | None = None, pages: int = 2, resume: bool = False
) -> PreviewResult:
    """Fetch up to ``pages`` pages of ``source`` (default: the only or first source)."""
    from collectorkit.collect import CollectorClient, CollectorState
    from collectorkit.collect._selfcheck import missing_fields_finding
    from collectorkit.config._build import build_blueprint, build_pipeline_for

    chosen = config.source(source) if source else config.sources[0]
    result = PreviewResult(source=chosen.name)
    if chosen.is_dev_mode:
        result.error = "development mode (dummy credentials): the API is not called"
        return result
    if chosen.is_stream:
        result.error = (
            f"preview fetches pages of http sources; {chosen.name!r} is a {chosen.type} stream "
            "(try `collectorkit once` with a limit)"
        )
        return result
    blueprint = build_blueprint(chosen)
    pipeline = build_pipeline_for(chosen)
    resume_state = await _saved_state(config, chosen.name) if resume else None
    client = CollectorClient(blueprint)
    state: CollectorState = resume_state or CollectorState()
    keys_missing: Finding | None = None
    stream = client.iter_pages(resume_state=resume_state)
    try:
        async for page in stream:
            outcome = await pipeline.run(page.events, source=chosen.name)
            keys = tuple(chosen.key_fields)
            if keys_missing is None:
                keys_missing = missing_fields_finding(
                    outcome.records, keys, page=len(result.pages) + 1
                )
            result.pages.append(
                PreviewPage(
                    number=len(result.pages) + 1,
                    envelopes=[
                        Envelope(chosen.name, record_key(chosen.name, r, keys), r)
                        for r in outcome.records
                    ],
                    dead=[(d.processor, d.reason) for d in outcome.dead],
                    dropped=outcome.dropped,
                )
            )
            state = page.state
            if page.stop_reason is not None:
                result.stop_reason = str(page.stop_reason.value)
            if len(result.pages) >= pages or page.stop_reason is not None:
                break
        await stream.aclose()
        if result.stop_reason is None and stream.stop_reason is not None:
            result.stop_reason = str(stream.stop_reason.value)
    except CollectorError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    result.findings = [*stream.findings, *([keys_missing] if keys_missing else [])]
    result.state = state.to_dict()
    if result.stop_reason is None and result.error is None:
        result.next = next_request(blueprint, state)
    return result


async def _saved_state(config: Config, name: str) -> CollectorState | None:
    from collectorkit.collect import CollectorState
    from collectorkit.delivery import DEFAULT_CHECKPOINT_NAMESPACE
    from collectorkit.state import open_state_store

    store = await open_state_store(config.state, lock=False)  # reads: a daemon may be running
    try:
        stored = await store.get(DEFAULT_CHECKPOINT_NAMESPACE, name)
    finally:
        await store.aclose()
    return CollectorState.from_dict(stored.value) if stored else None


def render(result: PreviewResult, console: Console, *, show: int = 5) -> None:
    from rich.panel import Panel
    from rich.syntax import Syntax

    from collectorkit.http._redact import redact

    console.rule(f"preview of {result.source}")
    for page in result.pages:
        console.print(
            f"[bold]page {page.number}[/]: {len(page.envelopes)} records for the sinks"
            + (f", {page.dropped} dropped by the pipeline" if page.dropped else "")
            + (f", [red]{len(page.dead)} to dead-letter[/]" if page.dead else "")
        )
        for envelope in page.envelopes[:show]:
            body = json.dumps(redact(dict(envelope.data)), indent=2, default=str)
            console.print(Panel(Syntax(body, "json"), title=f"key {envelope.key}", expand=False))
        if len(page.envelopes) > show:
            console.print(f"  … and {len(page.envelopes) - show} more")
        for processor, reason in page.dead[:show]:
            console.print(f"  [red]dead-letter[/] ({processor}): {reason}")
    if result.error:
        console.print(f"[red]{result.error}[/]")
    for finding in result.findings:
        console.print(f"[yellow bold]suspect:[/] {finding}", highlight=False)
        if finding.candidates:
            key = finding.path.rsplit(".", 1)[-1]
            console.out(f"  try {key}: {finding.candidates[0]}", highlight=False)
    if result.next is not None:
        nxt = result.next
        params = "&".join(f"{k}={v}" for k, v in redact(dict(nxt.params)).items())
        line = f"{nxt.method} {nxt.url}" + (f"?{params}" if params else "")
        console.out(f"next request: {line}", highlight=False)  # unwrapped: copy-pasteable
        if nxt.json is not None:
            console.print(Syntax(json.dumps(redact(nxt.json), indent=2, default=str), "json"))
    elif result.stop_reason:
        console.print(f"[bold]no next request:[/] the collector would stop ({result.stop_reason})")
    console.print("[dim]nothing was stored and no state was saved[/]")


def preview_sync(
    config: Config, *, source: str | None = None, pages: int = 2, debug: bool = False
) -> int:
    from rich.console import Console

    from collectorkit.daemon._logging import configure_logging, print_command_error

    console = Console()
    configure_logging(level="debug" if debug else "warning")
    try:
        result = asyncio.run(preview(config, source=source, pages=pages))
    except (KeyError, CollectorError) as exc:
        return print_command_error(console, exc)
    render(result, console)
    return 1 if result.error or result.findings else 0
