"""Seed 000's boilerplate template, runnable: ``demisto`` is replaced by plain parameters.

``params`` stands for ``demisto.params()``, ``context`` for the integration context, and
``command_execution_time`` for ``demisto.commandExecutionTime()``; the command returns what it
would have passed to ``CommandResults`` together with the context to save.

Run it against your API, or without arguments against a small local demo API it starts::

    python examples/seed000_collector_template.py [BASE_URL API_KEY]
"""

# ruff: noqa: F403, F405  — the seed's template imports the whole module on purpose

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collectorkit import *


def build_client(params: dict[str, Any], command_execution_time: float) -> CollectorClient:
    auth = APIKeyAuthHandler(
        key=params["api_key"],
        header_name="X-API-Key",
    )

    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="cursor",
        next_cursor_path="meta.next_cursor",
        page_size_param="limit",
        page_size=int(params.get("page_size", 200)),
    )

    request = CollectorRequest(
        endpoint="/v1/events",
        params={"limit": pagination.page_size},
        data_path="data.events",
        pagination=pagination,
        state_key="events-default",
    )

    blueprint = CollectorBlueprint(
        name="MyCollector",
        base_url=params["url"],
        request=request,
        auth_handler=auth,
        retry_policy=RetryPolicy(max_attempts=5, initial_delay=1),
        rate_limit=RateLimitPolicy(rate_per_second=5, burst=10),
        timeout=TimeoutSettings(execution=command_execution_time),
        default_strategy="sequential",
    )

    return CollectorClient(blueprint)


def fetch_events_command(
    params: dict[str, Any], context: dict[str, Any], command_execution_time: float = 300.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One fetch: returns the command results and the integration context to save."""
    client = build_client(params, command_execution_time)
    context = context or {}
    resume_state = CollectorState.from_dict(context.get("state")) if context.get("state") else None

    result = client.collect_events_sync(limit=1000, resume_state=resume_state)

    new_context = {"state": result.state.to_dict()}

    command_results = {
        "readable_output": f"Fetched {len(result.events)} events.",
        "outputs_prefix": "MyCollector.Event",
        "outputs_key_field": "id",
        "outputs": result.events,
        "metrics": result.metrics.metrics,
    }
    return command_results, new_context


# --- a local demo API, so the template runs as is -----------------------------------------

DEMO_KEY = "demo-key"
DEMO_EVENTS = [{"id": f"evt-{i:05d}", "message": f"event {i}"} for i in range(2500)]


class _DemoAPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path != "/v1/events":
            self._reply(404, {"error": "not found"})
        elif self.headers.get("X-API-Key") != DEMO_KEY:
            self._reply(401, {"error": "bad api key"})
        else:
            start = int(query.get("cursor", ["0"])[0])
            size = int(query.get("limit", ["200"])[0])
            end = min(start + size, len(DEMO_EVENTS))
            more = str(end) if end < len(DEMO_EVENTS) else None
            self._reply(
                200, {"data": {"events": DEMO_EVENTS[start:end]}, "meta": {"next_cursor": more}}
            )

    def _reply(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str]) -> int:
    server = None
    if len(argv) >= 2:
        params = {"url": argv[0], "api_key": argv[1]}
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _DemoAPI)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        params = {"url": f"http://127.0.0.1:{server.server_address[1]}", "api_key": DEMO_KEY}
    try:
        context: dict[str, Any] = {}
        total = 0
        for run in range(1, 5):
            results, context = fetch_events_command(params, context)
            total += len(results["outputs"])
            print(f"run {run}: {results['readable_output']} metrics={results['metrics']}")
            if not results["outputs"]:
                break
        print(f"total: {total} events; saved state: {json.dumps(context['state'])}")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
