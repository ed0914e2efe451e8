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
