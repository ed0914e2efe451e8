"""Every runnable example in ``examples/`` is run here, against local servers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- seed 000: the CollectorClient boilerplate template ------------------------------------------


def test_seed000_template_fetches_everything_once_across_runs(httpserver) -> None:
    import json

    from werkzeug import Request, Response

    events = [{"id": f"e{i:04d}", "message": "x" * 20} for i in range(2300)]
    seen_keys: list[str | None] = []

    def handler(request: Request) -> Response:
        seen_keys.append(request.headers.get("X-API-Key"))
        start = int(request.args.get("cursor", 0))
        size = int(request.args["limit"])
        end = min(start + size, len(events))
        body = {
            "data": {"events": events[start:end]},
            "meta": {"next_cursor": str(end) if end < len(events) else None},
        }
        return Response(json.dumps(body), mimetype="application/json")

    httpserver.expect_request("/v1/events").respond_with_handler(handler)
    template = load_example("seed000_collector_template")
    params = {"url": httpserver.url_for("/").rstrip("/"), "api_key": "k-123", "page_size": 300}

    context: dict = {}
    fetched: list[str] = []
    sizes: list[int] = []
    for _ in range(4):
        results, context = template.fetch_events_command(params, context)
        sizes.append(len(results["outputs"]))
        fetched += [e["id"] for e in results["outputs"]]
        assert results["outputs_key_field"] == "id"
        assert {"type": "success", "count": results["metrics"][0]["count"]} in results["metrics"]
    assert sizes == [1000, 1000, 300, 0]
    assert fetched == [e["id"] for e in events]
    assert set(seen_keys) == {"k-123"}
    assert context["state"]["cursor"] == "2100"


def test_seed000_template_runs_as_a_script_against_its_demo_api() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed000_collector_template.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "run 1: Fetched 1000 events." in done.stdout
    assert "total: 2500 events" in done.stdout


# --- seed 003: processing pipeline, storage backends, events, error handling --------------------


async def test_seed003_mocks_validation_events_and_errors(tmp_path: Path) -> None:
    example = load_example("seed003_pipeline_and_storage")
    path = await example.test_pipeline()
    assert path.startswith("memory://test_storage/")

    good = b'{"sensor_id": "s1", "value": 2, "timestamp": 1}'
    assert await example.processing_pipeline(tmp_path / "p.db", good) == [
        {"sensor_id": "s1", "value": 2, "timestamp": 1}
    ]
    assert await example.processing_pipeline(tmp_path / "q.db", b'{"sensor_id": "s1"}') is None

    seen = await example.event_driven_pipeline()
    assert [s.split(":")[0] for s in seen] == ["collection", "storage"]

    blocker = tmp_path / "blocked"
    blocker.write_text("x")
    handler = await example.error_handling_pipeline(blocker)
    (error,) = handler.errors
    assert (error.error_type.value, error.layer_name, error.is_critical) == (
        "storage",
        "storage",
        True,
    )


async def test_seed003_collection_into_sqlite_is_exactly_once_across_runs(tmp_path: Path) -> None:
    example = load_example("seed003_pipeline_and_storage")
    alerts = example.demo_alerts(45)
    server = example.start_demo_api(alerts)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        first = await example.collect_into_sqlite(url, tmp_path)
        alerts += [{"id": "late", "created_at": 1_800_000_000, "user": {"email": "z@x"}}]
        second = await example.collect_into_sqlite(url, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    malformed = sum(1 for a in alerts if "created_at" not in a)
    assert first["report"].dead_letters == malformed == 2
    assert first["total"] == 45 - malformed
    assert second["total"] == 46 - malformed
    assert second["report"].duplicates == 0
    dead = (tmp_path / "dead_letters.jsonl").read_text().splitlines()
    assert len(dead) == malformed


def test_seed003_example_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed003_pipeline_and_storage.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Validation failed: Missing required fields: ['value', 'timestamp']" in done.stdout
    assert "total_in_sqlite=43" in done.stdout


# --- seed 004: the generic API client (simple REST, OAuth2 flow, rate limiting) -----------------


def _run_example(name: str, env: dict[str, str] | None = None) -> str:
    import os

    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_seed004_examples_run_as_scripts_against_their_demo_api() -> None:
    assert "3 users: ['Ada', 'Grace', 'Linus']" in _run_example("simple_rest")
    oauth = _run_example("oauth_flow")
    assert "fetched 2 orders x 5 concurrent calls" in oauth
    assert "token fetches: 1" in oauth
    assert "demo-secret-456" not in oauth
    limited = _run_example("rate_limited", {"REQUESTS": "20"})
    assert "successful: 20/20" in limited


def test_seed004_simple_rest_against_a_local_server(httpserver) -> None:
    from werkzeug import Request, Response

    created: list[bytes] = []

    def create(request: Request) -> Response:
        created.append(request.get_data())
        return Response('{"id": 9, "name": "Linus"}', status=201, mimetype="application/json")

    key = {"X-API-Key": "sk-test-777"}
    httpserver.expect_request("/users", method="POST", headers=key).respond_with_handler(create)
    httpserver.expect_request("/users", method="GET", headers=key).respond_with_json(
        [{"id": 1, "name": "Ada"}, {"id": 9, "name": "Linus"}]
    )
    out = _run_example(
        "simple_rest",
        {"API_BASE_URL": httpserver.url_for("/").rstrip("/"), "API_KEY": "sk-test-777"},
    )
    assert "created user 9; 2 users: ['Ada', 'Linus']" in out
    assert "requests: 2, successful: 2" in out
    assert created == [b'{"name":"Linus"}']


def test_seed004_oauth_flow_fetches_one_token_for_concurrent_calls(httpserver) -> None:
    import base64
    from urllib.parse import parse_qs

    from werkzeug import Request, Response

    forms: list[dict[str, list[str]]] = []
    basic = "Basic " + base64.b64encode(b"cid-1:csecret-2").decode()

    def token(request: Request) -> Response:
        forms.append(parse_qs(request.get_data(as_text=True)))
        if request.headers.get("Authorization") != basic:
            return Response('{"error": "invalid_client"}', status=401)
        body = '{"access_token": "tok-abc-1", "expires_in": 600}'
        return Response(body, mimetype="application/json")

    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(token)
    httpserver.expect_request(
        "/orders", headers={"Authorization": "Bearer tok-abc-1"}
    ).respond_with_json([{"id": "A"}, {"id": "B"}, {"id": "C"}])
    base = httpserver.url_for("/").rstrip("/")
    out = _run_example(
        "oauth_flow",
        {
            "API_BASE_URL": base,
            "TOKEN_URL": f"{base}/oauth/token",
            "CLIENT_ID": "cid-1",
            "CLIENT_SECRET": "csecret-2",
        },
    )
    assert "fetched 3 orders x 5 concurrent calls" in out
    assert "token fetches: 1" in out
    assert "csecret-2" not in out
    assert len(forms) == 1
    assert forms[0]["grant_type"] == ["client_credentials"]
    assert forms[0]["scope"] == ["orders:read"]


def test_seed004_rate_limited_paces_and_honours_retry_after(httpserver) -> None:
    import time

    from werkzeug import Request, Response

    arrivals: list[float] = []

    def events(request: Request) -> Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 16:  # the first request after the burst of 15 gets a 429
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response('{"events": []}', mimetype="application/json")

    httpserver.expect_request("/events").respond_with_handler(events)
    out = _run_example(
        "rate_limited", {"API_BASE_URL": httpserver.url_for("/").rstrip("/"), "REQUESTS": "20"}
    )
    assert "successful: 20/20" in out
    assert "429s from the server: 1, retries: 1" in out
    assert len(arrivals) == 21
    # the burst went out at once, then the bucket paced the rest ...
    assert arrivals[14] - arrivals[0] < 1.0  # paced at 10/s they would take 1.4 s
    # ... and the 429 paused the whole client for a second: nothing arrived right after it
    after = [t - arrivals[15] for t in arrivals[16:]]
    assert min(after) >= 0.9


# --- seed 001: storage client and watermarks -----------------------------------------------------


async def test_seed001_unit_test_with_mock_storage() -> None:
    example = load_example("seed001_storage_client")
    await example.test_collection_with_mock_storage()


async def test_seed001_flows_against_a_real_storage_service(tmp_path: Path) -> None:
    import os

    from collectorkit.service import run_storage_service
    from collectorkit.state import SQLiteStateStore

    example = load_example("seed001_storage_client")
    store = SQLiteStateStore(tmp_path / "storage.db")
    previous = os.environ.get("STORAGE_SERVICE_URL")
    try:
        async with run_storage_service(store) as url:
            seen = await example.run_against_service(url)
    finally:
        await store.aclose()
        if previous is None:
            os.environ.pop("STORAGE_SERVICE_URL", None)
        else:
            os.environ["STORAGE_SERVICE_URL"] = previous
    assert seen["healthy"] is True
    assert (seen["first_run"], seen["second_run"], seen["third_run"]) == (13, 0, 5)
    assert seen["failed_kept_watermark"] is True
    assert seen["status"] == "failed"
    assert 11.9 * 3600 < seen["age"].total_seconds() < 12.1 * 3600


def test_seed001_example_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed001_storage_client.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "first run (7-day lookback): 13 events" in done.stdout
    assert "third run (5 new events): 5 events" in done.stdout
    assert "failed run kept the watermark: True" in done.stdout
    assert "open_state_store() with STORAGE_SERVICE_URL -> StorageServiceClient" in done.stdout
    assert "No storage service URL provided - using mock storage client" in done.stderr


# --- exactly once into your sinks (README section and examples/exactly_once.py) ---------------

README = EXAMPLES.parent / "README.md"


def _readme_snippet(section: str) -> str:
    """The first ``python`` code block under the README heading ``section``."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return body.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_exactly_once_snippet_runs_and_resumes(
    httpserver, tmp_path: Path, monkeypatch
) -> None:
    import contextlib
    import io
    import json
    import sqlite3

    from werkzeug import Request, Response

    from collectorkit import (
        CollectorBlueprint,
        CollectorRequest,
        PaginationConfig,
    )

    served: list[str] = []

    def events(request: Request) -> Response:
        served.append(request.args.get("cursor", ""))
        page = int(request.args.get("cursor", 0))
        data = [{"id": f"e{page}-{i}"} for i in range(5)]
        body = {
            "data": {"events": data},
            "meta": {"next_cursor": str(page + 1) if page < 3 else None},
        }
        return Response(json.dumps(body), mimetype="application/json")

    httpserver.expect_request("/v1/events").respond_with_handler(events)
    blueprint = CollectorBlueprint(
        name="MyCollector",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(
            endpoint="/v1/events",
            data_path="data.events",
            pagination=PaginationConfig(
                mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
            ),
        ),
    )
    monkeypatch.chdir(tmp_path)
    code = compile(_readme_snippet("Exactly once into your sinks"), "README.md", "exec")
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, {"blueprint": blueprint})  # noqa: S102 - the README's own snippet
        outputs.append(out.getvalue().split())
    assert outputs[0] == ["20", "0", "4", "no_next", "0"]
    assert outputs[1][0] == "0"  # the second run resumed: nothing stored twice
    with sqlite3.connect(tmp_path / "events.db") as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM events")]
    assert len(keys) == len(set(keys)) == 20
    assert served == ["", "1", "2", "3", "3"]  # the second run asked only for the last page


def test_exactly_once_example_against_the_simulator(tmp_path: Path) -> None:
    from collectorkit.simulator import SimulatorServer, build_config

    example = load_example("exactly_once")
    config = build_config(seed=3, profiles=["generic"], records=120, faults=example.FAULTS)
    db = tmp_path / "events.db"
    with SimulatorServer(config) as sim:
        blueprint = example.events_blueprint(
            sim.url("generic"), sim.credentials("generic")["token"]
        )
        first = example.collect(blueprint, db)
        sim.add_records("generic", 15)
        second = example.collect(blueprint, db)
        served = sim.ledger.served_ids("generic")
    ids = example.stored_ids(db)
    assert (first.stored, second.stored) == (120, 15)
    assert first.stop_reason == "no_next"
    assert len(ids) == len(set(ids)) == len(served) == 135


def test_exactly_once_example_runs_as_a_script() -> None:
    out = _run_example("exactly_once")
    assert "first run: 300 stored" in out
    assert "second run: 20 stored (resumed from the checkpoint)" in out
    assert "in SQLite: 320 events, 320 distinct; served: 320" in out
