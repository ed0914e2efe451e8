"""CrowdStrike Falcon alerts: query ids, then fetch entities; or the combined ``after`` walk.

``POST /oauth2/token`` (form ``client_id``/``client_secret``) answers **201** with a bearer
token living ``token_lifetime`` (default 1799 s). ``GET /alerts/queries/alerts/v2`` pages
composite ids with ``offset``/``limit`` (default 100, max 1000; ``offset + limit`` beyond 10 000
is a 400) and ``meta.pagination.total``; ``POST /alerts/entities/alerts/v2`` with
``{"composite_ids": [...]}`` (at most 1000) returns the alerts, reporting unknown ids in
``errors`` without failing. ``POST /alerts/combined/alerts/v1`` pages full alerts with an opaque
``after`` token, absent from ``meta.pagination`` on the last page. FQL subset: ``+``-joined
``created_timestamp``/``updated_timestamp`` with ``:>``, ``:>=``, ``:<``, ``:<=`` and ``'...'``
times, and ``field:'value'`` equality on ``product``, ``status``, ``severity_name``.
``X-RateLimit-Limit/Remaining`` on every response; a 429 carries ``X-RateLimit-RetryAfter`` as
**epoch seconds**. Every body is ``{"meta", "resources", "errors"}``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from collectorkit.simulator._dataset import StoredRecord, ViewKey
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._timefmt import iso, parse_time_ms

__all__ = ["CrowdStrikeAPI"]

CID = "0123456789abcdef0123456789abcdef"
_TIMES: dict[str, ViewKey] = {"created_timestamp": "event", "updated_timestamp": "updated"}
_TERM_TIME = re.compile(r"^(created_timestamp|updated_timestamp):(>=|>|<=|<)'([^']+)'$")
_TERM_EQ = re.compile(r"^(product|status|severity_name):'([^']*)'$")
_SORT = re.compile(r"^(created_timestamp|updated_timestamp)(?:[.|](asc|desc))?$")
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}
_SEVERITIES = ((30, "Low"), (50, "Medium"), (70, "High"), (90, "Critical"))
_PATTERNS = (
    ("ExamplePattern", "Execution", "TA0002", "User Execution", "T1204"),
    ("CredentialTheft", "Credential Access", "TA0006", "OS Credential Dumping", "T1003"),
    ("SuspiciousScript", "Execution", "TA0002", "PowerShell", "T1059.001"),
)


def _term(text: str) -> Callable[[StoredRecord, dict[str, Any]], bool]:
    if m := _TERM_TIME.match(text):
        ms = parse_time_ms(m[3])
        if ms is None:
            raise ValueError(text)
        key, op = _TIMES[m[1]], _OPS[m[2]]
        return lambda rec, _doc: op(rec.time(key), ms)
    if m := _TERM_EQ.match(text):
        field, value = m[1], m[2]
        return lambda _rec, doc: bool(doc[field] == value)
    raise ValueError(text)


class CrowdStrikeAPI(VendorAPI):
    """CrowdStrike-shaped alerts behind OAuth2 (30-minute tokens)."""

    kind = "crowdstrike"
    id_field = "composite_id"
    default_token_lifetime = 1799.0
    rate_limit_header_default = 6000

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        agent = f"{rng.getrandbits(128):032x}"
        local = f"{1_000_000_000 + index}-5761-{rng.randrange(10**6, 10**7)}"
        name, tactic, tactic_id, technique, technique_id = rng.choice(_PATTERNS)
        severity, severity_name = rng.choice(_SEVERITIES)
        host = rng.randrange(1, 40)
        return {
            "composite_id": f"{CID}:ind:{agent}:{local}",
            "id": f"ind:{agent}:{local}",
            "aggregate_id": f"aggind:{agent}:{rng.randrange(10**9, 10**10)}",
            "cid": CID,
            "agent_id": agent,
            "type": "ldt",
            "product": rng.choice(("epp", "epp", "idp", "xdr")),
            "name": name,
            "display_name": name,
            "description": f"{name} detection #{index}",
            "severity": severity,
            "severity_name": severity_name,
            "confidence": rng.choice((50, 80, 100)),
            "tactic": tactic,
            "tactic_id": tactic_id,
            "technique": technique,
            "technique_id": technique_id,
            "pattern_id": 5761,
            "device": {
                "device_id": agent,
                "hostname": f"HOST-{host:02d}",
                "platform_name": "Windows",
                "local_ip": f"10.0.0.{host}",
            },
            "filename": "demo.exe",
            "cmdline": f"demo.exe --x {index}",
            "user_name": rng.choice(("alice", "bob", "carol")),
            "source_products": ["Falcon Insight"],
            "source_vendors": ["CrowdStrike"],
            "show_in_ui": True,
            "tags": [],
        }

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("queries", ("/alerts/queries/alerts/v2",), ("GET",), self.queries),
            Endpoint("entities", ("/alerts/entities/alerts/v2",), ("POST",), self.entities),
            Endpoint("combined", ("/alerts/combined/alerts/v1",), ("POST",), self.combined),
            Endpoint("token", ("/oauth2/token",), ("POST",), self.token, is_data=False, auth=False),
        ]

    def credentials(self, base_url: str) -> dict[str, str]:
        return {
            "client_id": self.profile.client_id,
            "client_secret": self.profile.oauth_secret,
            "token_url": base_url + "/oauth2/token",
        }

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out = dict(rec.fields)
        out |= {
            "status": "new" if rec.version == 1 else "in_progress",
            "timestamp": iso(rec.event_ms - 60_000),
            "context_timestamp": iso(rec.event_ms - 61_000),
            "created_timestamp": iso(rec.event_ms, digits=9),
            "crawled_timestamp": iso(rec.inserted_ms, digits=9),
            "updated_timestamp": iso(rec.updated_ms, digits=9),
        }
        return out

    def _envelope(
        self, resources: list[Any], errors: list[Any], **pagination: Any
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "query_time": 0.012,
            "powered_by": "detectsapi",
            "trace_id": "00000000-0000-4000-8000-000000000000",
        }
        if pagination:
            meta["pagination"] = pagination
        return {"meta": meta, "resources": resources, "errors": errors}

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, self._envelope([], [{"code": status, "message": message or code}]))

    def token_ok(self, token: str | None, now: float) -> bool:
        return token in self.tokens and super().token_ok(token, now)

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "unauthorized", "access denied, invalid bearer token")

    def throttle_reply(self, ctx: RequestContext, spec: Any) -> Reply:
        reply = self.error(429, "rate_limited", "API rate limit exceeded.")
        when = math.ceil(ctx.now + spec.retry_after) if spec else int(self.window_reset(ctx.now))
        reply.headers += [("X-RateLimit-Remaining", "0"), ("X-RateLimit-RetryAfter", str(when))]
        return reply

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        remaining = (
            [] if reply.status == 429 else [("X-RateLimit-Remaining", str(self.window_remaining()))]
        )
        return [("X-RateLimit-Limit", str(self.window_limit())), *remaining]

    def has_cursor(self, ctx: RequestContext) -> bool:
        if ctx.endpoint.name != "combined":
            return False
        doc = ctx.json()
        return isinstance(doc, dict) and bool(doc.get("after"))

    def token(self, ctx: RequestContext) -> Reply:
        form = {k: v[0] for k, v in parse_qs(ctx.body.decode("latin-1")).items()}
        if (
            form.get("client_id") != self.profile.client_id
            or form.get("client_secret") != self.profile.oauth_secret
        ):
            return self.error(401, "access_denied", "access denied, invalid client credentials")
        token, lifetime = self.issue_token(ctx.now)
        return Reply(201, {"access_token": token, "token_type": "bearer", "expires_in": lifetime})

    # -- reading --------------------------------------------------------------------------
    def _select(self, fql: str, sort: str) -> list[StoredRecord]:
        try:
            terms = [_term(t) for t in fql.split("+") if t] if fql else []
        except ValueError as exc:
            raise VendorError(self.error(400, "filter", f"invalid filter: {exc}")) from None
        m = _SORT.match(sort or "created_timestamp|desc")
        if not m:
            raise VendorError(self.error(400, "sort", f"invalid sort: {sort}"))
        rows = self.dataset.view(_TIMES[m[1]])[1]
        if terms:
            rows = [r for r in rows if all(t(r, self.render(r)) for t in terms)]
        return rows[::-1] if m[2] != "asc" else list(rows)

    def _limit(self, raw: Any, default: int = 100) -> int:
        try:
            limit = int(raw) if raw not in (None, "") else default
        except (TypeError, ValueError):
            limit = -1
        if not 1 <= limit <= (self.profile.max_page_size or 1000):
            raise VendorError(self.error(400, "limit", f"limit must be 1-1000, got {raw!r}"))
        return limit

    def queries(self, ctx: RequestContext) -> Reply:
        q = ctx.query
        limit = self._limit(q.get("limit"))
        try:
            offset = int(q.get("offset") or 0)
        except ValueError:
            offset = -1
        if offset < 0 or offset + limit > 10_000:
            raise VendorError(self.error(400, "offset", "offset + limit must be at most 10000"))
        rows = self._select(q.get("filter", ""), q.get("sort", ""))
        if ctx.drift(rows[:offset]):
            rows = self._select(q.get("filter", ""), q.get("sort", ""))
        page = rows[ctx.duplicate_start(offset) : offset + limit]
        body = self._envelope([r.id for r in page], [], offset=offset, limit=limit, total=len(rows))
        return Reply(200, body)

    def entities(self, ctx: RequestContext) -> Reply:
        doc = ctx.json()
        ids = doc.get("composite_ids") if isinstance(doc, dict) else None
        if not isinstance(ids, list) or not ids or len(ids) > 1000:
            raise VendorError(self.error(400, "composite_ids", "composite_ids: 1 to 1000 ids"))
        found = [rec for i in ids if (rec := self.dataset.get(str(i))) is not None]
        missing = [
            {"code": 404, "message": f"alert {i} not found"}
            for i in ids
            if self.dataset.get(str(i)) is None
        ]
        return Reply(200, self._envelope([self.render(r) for r in found], missing), served=found)

    def combined(self, ctx: RequestContext) -> Reply:
        doc = ctx.json()
        if not isinstance(doc, dict):
            raise VendorError(self.error(400, "body", "body must be a JSON object"))
        limit = self._limit(doc.get("limit"))
        fql, sort = str(doc.get("filter") or ""), str(doc.get("sort") or "")
        after = ctx.decode_cursor(str(doc["after"])) if doc.get("after") else None
        if after is not None:
            fql, sort = after["f"], after["s"]
        rows = self._select(fql, sort)
        start = 0
        if after is not None:
            start = next((i for i, r in enumerate(rows) if r.id == after["id"]), len(rows) - 1) + 1
        page = rows[ctx.duplicate_start(start) : start + limit]
        pagination: dict[str, Any] = {"total": len(rows), "limit": limit}
        if start + limit < len(rows) or ctx.never_ending:
            last = page[-1].id if page else (after or {}).get("id", "")
            pagination["after"] = ctx.encode_cursor({"f": fql, "s": sort, "id": last})
        return Reply(
            200, self._envelope([self.render(r) for r in page], [], **pagination), served=page
        )
