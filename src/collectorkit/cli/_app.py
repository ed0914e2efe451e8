"""The ``collectorkit`` command.

Only ``typer`` is imported at module level: ``collectorkit --help`` must start fast, so every
command imports what it needs (the runtime, pydantic, httpx2, uvicorn …) inside its body.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

if TYPE_CHECKING:
    from collectorkit.config._models import Config

__all__ = ["app", "main"]

app = typer.Typer(
    name="collectorkit",
    help="Collect events from HTTP APIs into storage without losing or duplicating a record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state_app = typer.Typer(help="Inspect or change saved collector state.", no_args_is_help=True)
app.add_typer(state_app, name="state")
connectors_app = typer.Typer(
    help="The connector catalogue: vendor APIs as data.", no_args_is_help=True
)
app.add_typer(connectors_app, name="connectors")

ConfigArg = Annotated[Path, typer.Argument(help="The YAML configuration file.", show_default=False)]
SourceOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime (Python 3.11)
    typer.Option("--source", "-s", help="Only this source."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Debug logging (request details).")]
StatusPortOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--status-port", help="Override status.port (0: any free port)."),
]
ResetStateOpt = Annotated[
    bool,
    typer.Option(
        "--reset-state",
        help="If the state database is damaged (empty, unreadable, corrupt), move it aside "
        "(<file>.damaged-<time>) and start afresh; without it, a damaged state is a refusal.",
    ),
]


def _worker_help() -> str:
    from collectorkit.cli._worker import WORKER_HELP

    return WORKER_HELP


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _load(path: Path) -> Config:
    from collectorkit._errors import ConfigError
    from collectorkit.config._load import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))


def _version(value: bool) -> None:
    if value:
        from collectorkit import __version__

        typer.echo(f"collectorkit {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Collect events from HTTP APIs into storage without losing or duplicating a record."""


@app.command()
def run(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="YAML file; without it, one XDR source from XDR_* variables."),
    ] = None,
    interval: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Seconds (or 30s, 5m) between polls of every source."),
    ] = None,
    base_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--base-url", help="XDR API base URL (single-source mode)."),
    ] = None,
    auth_token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--auth-token", help="XDR API key (single-source mode)."),
    ] = None,
    status_port: StatusPortOpt = None,
    grace: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Seconds in-flight pages get to finish after SIGINT/SIGTERM."),
    ] = None,
    callback: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--callback",
            help="On new alerts: python:pkg.mod:func, command:<shell cmd> (JSON on stdin) "
            "or webhook:<url>. Repeatable.",
        ),
    ] = None,
    debug: DebugOpt = False,
    reset_state: ResetStateOpt = False,
) -> None:
    """Run the daemon: every source on its schedule until SIGINT/SIGTERM.

    Without a file: one Cortex XDR source from XDR_BASE_URL, XDR_AUTH_TOKEN and XDR_AUTH_ID.

    Without a state: setting: STORAGE_SERVICE_URL (+ STORAGE_SERVICE_TOKEN), else collectorkit.db.
    """
    from collectorkit._errors import CollectorError, ConfigError
    from collectorkit.cli._state import choose_state
    from collectorkit.config._xdr_env import config_from_env, explain_xdr_failure, xdr_variables_set
    from collectorkit.daemon._app import apply_overrides, run_daemon_sync

    if config is None and base_url is None and auth_token is None and not xdr_variables_set():
        typer.echo(ctx.get_help())
        _fail("give a configuration file, or set XDR_BASE_URL and XDR_AUTH_TOKEN")
    try:
        if config is None:
            cfg = config_from_env(
                overrides={
                    "interval": interval,
                    "debug": debug,
                    "base_url": base_url,
                    "auth_token": auth_token,
                }
            )
        else:
            if base_url is not None or auth_token is not None:
                _fail("--base-url and --auth-token apply without a configuration file only")
            cfg = apply_overrides(_load(config), interval=interval)
        cfg = choose_state(cfg, log_level="debug" if debug else cfg.log_level)
        code = run_daemon_sync(
            cfg,
            explain=explain_xdr_failure if config is None else None,
            debug=debug,
            status_port=status_port,
            grace=grace,
            callbacks=callback or (),
            reset_state=reset_state,
        )
    except ConfigError as exc:
        if config is None and exc.path == "status.port":  # no file to change: say the flag
            busy = exc.reason.partition(";")[0]
            _fail(f"the status server {busy}; pass --status-port 0 for any free port")
        _fail(str(exc))
    except CollectorError as exc:  # a store or sink that cannot be opened, ...
        _fail(str(exc), code=1)
    raise typer.Exit(code)


@app.command()
def once(
    config: ConfigArg,
    source: SourceOpt = None,
    debug: DebugOpt = False,
    reset_state: ResetStateOpt = False,
) -> None:
    """Run every source (or one) once, with progress bars and a summary table."""
    from collectorkit._errors import ConfigError
    from collectorkit.cli._once import run_once_sync
    from collectorkit.cli._state import choose_state

    try:
        cfg = choose_state(_load(config))  # STORAGE_SERVICE_URL when the file names no state
    except ConfigError as exc:
        _fail(str(exc))
    code = run_once_sync(cfg, source=source, debug=debug, reset_state=reset_state)
    raise typer.Exit(code)


@app.command()
def preview(
    config: ConfigArg,
    source: SourceOpt = None,
    pages: Annotated[int, typer.Option(min=1, max=10, help="Pages to fetch.")] = 2,
    debug: DebugOpt = False,
) -> None:
    """Show a source's first pages as sinks would get them, and the next request; saves nothing."""
    from collectorkit.cli._preview import preview_sync

    raise typer.Exit(preview_sync(_load(config), source=source, pages=pages, debug=debug))


@app.command()
def validate(
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="The YAML configuration file.", show_default=False),
    ] = None,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON Schema of the file instead.")
    ] = False,
) -> None:
    """Check a configuration file; every problem names its YAML path."""
    if config is None and not schema:
        _fail("give the configuration file to check (or --schema for the JSON Schema)")
    if schema or config is None:
        import json

        from collectorkit.config._schema import config_json_schema

        typer.echo(json.dumps(config_json_schema(), indent=2))
        return
    from collectorkit.daemon._app import check_callbacks, check_files

    cfg = _load(config)
    problems = check_callbacks(cfg) + check_files(cfg)
    if problems:
        _fail("\n".join(str(p) for p in problems))
    names = ", ".join(s.name for s in cfg.sources)
    typer.echo(f"{config}: OK — {len(cfg.sources)} source(s): {names}")


StateOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--state",
        help="State store URL (default: the config's, else STORAGE_SERVICE_URL, "
        "else ./collectorkit.db).",
    ),
]
ConfigOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--config", "-c", help="Take the state URL from this configuration file."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _state_url(config: Path | None, state: str | None) -> str:
    """Only the file's ``state:`` is read: the sources' secrets need not be set."""
    from collectorkit._errors import ConfigError
    from collectorkit.cli._state import state_url_for

    try:
        return state_url_for(config, state)
    except ConfigError as exc:
        _fail(str(exc))


@state_app.command("show")
def state_show(
    source: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Only this source."),
    ] = None,
    config: ConfigOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the saved state: cursors, watermarks, processed ids."""
    from collectorkit.cli._state import show_state

    raise typer.Exit(show_state(_state_url(config, state), source, as_json=as_json))


@state_app.command("reset")
def state_reset(
    source: Annotated[str, typer.Argument(help="The source whose state to delete.")],
    config: ConfigOpt = None,
    state: StateOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Forget a source's state: its next run starts from the initial lookback."""
    from collectorkit._redact import redact_url
    from collectorkit.cli._state import no_state_yet, reset_state

    url = _state_url(config, state)
    if not yes and not no_state_yet(url):
        typer.confirm(f"Delete all saved state of {source!r} in {redact_url(url)}?", abort=True)
    raise typer.Exit(reset_state(url, source, as_json=as_json))


@state_app.command("set")
def state_set(
    source: Annotated[str, typer.Argument(help="The source.")],
    watermark: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="New watermark (ISO 8601, epoch seconds or epoch milliseconds)."),
    ] = None,
    cursor: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="New cursor."),
    ] = None,
    config: ConfigOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a source's watermark or cursor by hand (e.g. to re-collect from a date)."""
    from collectorkit.cli._state import set_state

    if watermark is None and cursor is None:
        _fail("give --watermark and/or --cursor")
    url = _state_url(config, state)
    raise typer.Exit(set_state(url, source, watermark=watermark, cursor=cursor, as_json=as_json))


@app.command(help=_worker_help())
def worker(
    config: ConfigArg,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="This worker's name in the fleet (default: host-pid)."),
    ] = None,
    status_port: StatusPortOpt = None,
    debug: DebugOpt = False,
) -> None:
    from collectorkit._errors import CollectorError, ConfigError
    from collectorkit.cli._worker import run_worker_sync

    cfg = _load(config)
    try:
        code = run_worker_sync(cfg, name=name, status_port=status_port, debug=debug)
    except ConfigError as exc:
        _fail(str(exc))
    except CollectorError as exc:  # a store or sink that cannot be opened, ...
        _fail(str(exc), code=1)
    raise typer.Exit(code)


@app.command("serve-storage")
def serve_storage(
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port.")] = 8000,
    state: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--state", help="Backing state store URL (default ./collectorkit-state.db)."),
    ] = None,
    token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="STORAGE_SERVICE_TOKEN",
            help="Bearer token clients must send (required off loopback; 16+ characters).",
            show_envvar=True,
        ),
    ] = None,
    max_future: Annotated[
        str,
        typer.Option(help="Refuse watermarks further than this ahead of now (e.g. 1h, 1d)."),
    ] = "1h",
) -> None:
    """Run the storage service (watermarks and state for a fleet of collectors)."""
    from collectorkit._durations import parse_duration
    from collectorkit._errors import CollectorError
    from collectorkit.cli._serve import serve_storage_sync

    try:
        serve_storage_sync(
            host=host,
            port=port,
            state=state,
            token=token,
            max_future=parse_duration(max_future, field="--max-future"),
        )
    except CollectorError as exc:
        _fail(str(exc))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port.")] = 8900,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 1,
    records: Annotated[int, typer.Option(help="Records per API.")] = 250,
    profile: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--profile", help="Serve only these APIs (xdr, okta, graph, github, ...)."),
    ] = None,
    faults: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help='Faults as JSON, e.g. \'[{"kind": "rate_limit", "target": "okta", "every": 5}]\'.'
        ),
    ] = None,
) -> None:
    """Serve vendor-shaped APIs on localhost with injectable faults (Ctrl-C stops)."""
    from collectorkit._errors import CollectorError
    from collectorkit.cli._serve import simulate_sync

    try:
        simulate_sync(
            host=host, port=port, seed=seed, faults=faults, records=records, profiles=profile
        )
    except CollectorError as exc:
        _fail(str(exc))


@app.command()
def demo(
    records: Annotated[int, typer.Option(help="Records the simulator serves per API.")] = 3000,
    keep: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Write the database here instead of a temporary directory."),
    ] = None,
) -> None:
    """Start the simulator with faults, collect from it into SQLite, show what happened."""
    from collectorkit.cli._demo import run_demo_sync

    raise typer.Exit(run_demo_sync(records=records, directory=keep))


ConnectorsDirOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--connectors-dir", help="A folder of your own connector definitions too."),
]


def _connectors(call: Any) -> None:
    from collectorkit._errors import CollectorError

    try:
        typer.echo(call())
    except CollectorError as exc:
        _fail(str(exc))


@connectors_app.command("list")
def connectors_list(connectors_dir: ConnectorsDirOpt = None) -> None:
    """One line per connector: name, vendor and API, auth kinds."""
    from collectorkit.cli._connectors import connectors_list as listing

    _connectors(lambda: listing(connectors_dir))


@connectors_app.command("show")
def connectors_show(
    name: Annotated[str, typer.Argument(help="The connector.")],
    connectors_dir: ConnectorsDirOpt = None,
) -> None:
    """Options, required scopes, rate limits, semantics and the settings it supplies."""
    from collectorkit.cli._connectors import connectors_show as show

    _connectors(lambda: show(name, connectors_dir))


@connectors_app.command("init")
def connectors_init(
    name: Annotated[str, typer.Argument(help="The connector.")],
    connectors_dir: ConnectorsDirOpt = None,
) -> None:
    """Print a starter configuration with one source of the connector."""
    from collectorkit.cli._connectors import connectors_init as init

    _connectors(lambda: init(name, connectors_dir))


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``collectorkit`` script (and ``python -m collectorkit``)."""
    return app(args=sys.argv[1:] if argv is None else argv, prog_name="collectorkit")
