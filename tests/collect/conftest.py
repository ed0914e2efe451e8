"""A small vendor-shaped API over a list of records, served by a real local HTTP server.

Each pagination dialect the collector supports has an endpoint here, modelled on the vendor notes
(Slack-style cursors, 1Password body cursors, Okta Link headers, Cortex XDR POST offsets, OTX
next URLs). Handlers filter by an optional time window, so incremental collection is real too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import FakeClock

T0 = datetime(2023, 11, 14, 0, 0, tzinfo=UTC)


def make_records(count: int, *, start: datetime = T0, step: float = 60.0) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i:05d}", "created": (start + timedelta(seconds=i * step)).isoformat(), "n": i}
        for i in range(count)
    ]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


class FakeAPI:
    """Serves ``records`` in every paging dialect; counts requests; can inject failures."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.records: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.fail: Callable[[Request], Response | None] | None = None
        self.on_request: Callable[[Request], None] | None = None
        self.expired_cursors: set[str] = set()
        routes: dict[str, Callable[[Request], Response]] = {
            "/cursor": self.cursor,
            "/cursor-body": self.cursor_body,
            "/cursor-header": self.cursor_header,
            "/page": self.page,
            "/offset": self.offset,
            "/xdr": self.xdr,
            "/link-body": self.link_body,
            "/link-header": self.link_header,
            "/single": self.single,
            "/after-id": self.after_id,
        }
        for path, handler in routes.items():
            server.expect_request(path).respond_with_handler(self._wrap(handler))

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def _wrap(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            self.requests.append(request)
            if self.on_request is not None:
                self.on_request(request)
            if self.fail is not None:
                failure = self.fail(request)
                if failure is not None:
                    return failure
            return handler(request)

        return wrapped

    def _window(self, since: Any, until: Any) -> list[dict[str, Any]]:
        out = self.records
        if since not in (None, ""):
            low = _instant(since)
            out = [r for r in out if _instant(r["created"]) >= low]
        if until not in (None, ""):
            high = _instant(until)
            out = [r for r in out if _instant(r["created"]) <= high]
        return out

    # Slack: ?cursor=&limit= -> {"data": {"events": []}, "meta": {"next_cursor": ""}}
    def cursor(self, request: Request) -> Response:
        args = request.args
        cursor = args.get("cursor")
        if cursor in self.expired_cursors:
            # the fake's cursors are positions: once rejected, the same text names a new walk
            self.expired_cursors.discard(cursor)
            return _json({"ok": False, "error": "invalid_cursor"}, status=400)
        start = int(cursor[1:]) if cursor else 0
        size = int(args.get("limit", 10))
        rows = self._window(args.get("since"), args.get("until"))
        if args.get("region"):
            rows = [r for r in rows if r.get("region") == args["region"]]
        if args.get("order") == "desc":
            rows = rows[::-1]
        chunk = rows[start : start + size]
        nxt = f"c{start + size}" if start + size < len(rows) else ""
        return _json({"data": {"events": chunk}, "meta": {"next_cursor": nxt}})

    # 1Password: POST {"limit", "start_time"} or {"cursor"} -> {"cursor", "has_more", "items"}
    def cursor_body(self, request: Request) -> Response:
        body = request.get_json()
        if "cursor" in body and len(body) > 1:
            return _json({"Error": {"Message": "cursor and reset fields together"}}, status=400)
        if "cursor" in body:
            state = json.loads(body["cursor"])
        else:
            state = {"pos": 0, "limit": body.get("limit", 100), "since": body.get("start_time")}
        rows = self._window(state["since"], None)
        chunk = rows[state["pos"] : state["pos"] + state["limit"]]
        pos = state["pos"] + len(chunk)
        cursor = json.dumps({**state, "pos": pos})
        return _json({"cursor": cursor, "has_more": pos < len(rows), "items": chunk})

    # a cursor in a request header and in a response header
    def cursor_header(self, request: Request) -> Response:
        start = int(request.headers.get("X-Cursor", "0"))
        chunk = self.records[start : start + 7]
        headers = {"X-Next": str(start + 7)} if start + 7 < len(self.records) else {}
        return _json({"records": chunk, "next": headers.get("X-Next")}, headers=headers)

    # GitHub/OTX page numbers: ?page=&per_page= -> {"results": [], "total_pages": n}
    def page(self, request: Request) -> Response:
        page = int(request.args.get("page", 1))
        size = int(request.args.get("per_page", 10))
        rows = self._window(request.args.get("since"), request.args.get("until"))
        pages = max(1, -(-len(rows) // size))
        chunk = rows[(page - 1) * size : page * size]
        return _json({"results": chunk, "total_pages": pages})

    # CrowdStrike: ?offset=&limit= -> {"resources": [], "meta": {"pagination": {"total": n}}}
    def offset(self, request: Request) -> Response:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", 10))
        rows = self._window(request.args.get("since"), request.args.get("until"))
        chunk = rows[offset : offset + limit]
        return _json({"resources": chunk, "meta": {"pagination": {"total": len(rows)}}})

    # Cortex XDR: POST {"request_data": {"search_from", "search_to", "filters"}}
    def xdr(self, request: Request) -> Response:
        data = request.get_json()["request_data"]
        since = until = None
        for flt in data.get("filters", []):
            if flt["field"] == "creation_time":
                value = datetime.fromtimestamp(flt["value"] / 1000, tz=UTC).isoformat()
                if flt["operator"] == "gte":
                    since = value
                else:
                    until = value
        rows = self._window(since, until)
        low, high = data.get("search_from", 0), data.get("search_to", 100)
        chunk = rows[low : min(high, low + 100)]
        return _json(
            {"reply": {"total_count": len(rows), "result_count": len(chunk), "alerts": chunk}}
        )

    # OTX: {"results": [], "next": "http://…?page=2"} (absolute) — here relative on purpose
    def link_body(self, request: Request) -> Response:
        page = int(request.args.get("page", 1))
        size = int(request.args.get("limit", 10))
        rows = self._window(request.args.get("modified_since"), None)
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        query = {"page": page + 1, "limit": size}
        if request.args.get("modified_since"):
            query["modified_since"] = request.args["modified_since"]
        nxt = f"link-body?{urlencode(query)}" if more else None
        return _json({"count": len(rows), "next": nxt, "results": chunk})

    # Okta: list body, `Link: <…>; rel="next"` (two separate headers), polling semantics
    def link_header(self, request: Request) -> Response:
        after = int(request.args.get("after", 0))
        size = int(request.args.get("limit", 10))
        chunk = self.records[after : after + size]
        nxt = f"{self.base_url}/link-header?limit={size}&after={after + len(chunk)}"
        response = _json(chunk)
        response.headers.add("Link", f'<{request.url}>; rel="self"')
        response.headers.add("Link", f'<{nxt}>; rel="next"')
        return response

    # a list body whose cursor is the last record's id: next_cursor_path "[-1].id"
    def after_id(self, request: Request) -> Response:
        after = request.args.get("after")
        size = int(request.args.get("limit", 10))
        rows = [r for r in self.records if after is None or r["id"] > after]
        return _json(rows[:size])

    def single(self, request: Request) -> Response:
        return _json(self.records)


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.fixture
def api(httpserver: HTTPServer) -> Iterator[FakeAPI]:
    fake = FakeAPI(httpserver)
    yield fake
    httpserver.clear()


@pytest.fixture
def clock() -> FakeClock:
    # wall clock one day after T0, so a 7-day lookback covers the test records
    return FakeClock(start=(T0 + timedelta(days=1)).timestamp())


def blueprint(
    api: FakeAPI,
    clock: FakeClock,
    endpoint: str,
    pagination: Any = None,
    *,
    request: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """A blueprint against ``api`` on the fake clock (retries sleep on it: no real waiting)."""
    from collectorkit import CollectorBlueprint, CollectorRequest, PaginationConfig

    req = CollectorRequest(
        endpoint=endpoint,
        pagination=pagination or PaginationConfig(),
        **(request or {}),
    )
    return CollectorBlueprint(
        name="TestCollector", base_url=api.base_url, request=req, clock=clock, **options
    )


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]
