"""A generic JSON API: ``GET /v1/events`` (and ``/v1/alerts``) with cursor, page and offset paging.

The shape of seed 000's and DESIGN.md's examples: ``{"data": {"events": [...]}, "meta":
{"next_cursor": ...}}``. Auth: ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``.
"""

from __future__ import annotations

import bisect
import random
from functools import partial
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._timefmt import iso, parse_time_ms

__all__ = ["GenericAPI"]

_TYPES = ("login", "logout", "file_access", "policy_change", "malware_detected", "admin_action")
_SEVERITIES = ("low", "medium", "high", "critical")
_USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


def int_param(ctx: RequestContext, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; the vendor's 400 otherwise."""
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        msg = f"{name}={raw!r} must be an integer between {low} and {high}"
        raise VendorError(ctx.api.error(400, "invalid_parameter", msg))
    return value


def time_param(ctx: RequestContext, name: str) -> int | None:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return None
    ms = parse_time_ms(raw)
    if ms is None:
        msg = f"{name}={raw!r} is not an RFC 3339 time or epoch seconds"
        raise VendorError(ctx.api.error(400, "invalid_parameter", msg))
    return ms


class GenericAPI(VendorAPI):
    """Cursor paging by default (keyset on ``created_at``, ``id``); ``page``/``offset`` on request.

    ``since`` is inclusive and ``until`` exclusive on ``created_at``; ``limit`` 1-1000 (400
    beyond), default 100. ``meta.next_cursor`` is ``null`` on the last page.
    """

    kind = "generic"
    id_field = "id"

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        user = rng.choice(_USERS)
        return {
            "id": f"evt-{index:06d}-{rng.getrandbits(32):08x}",
            "type": rng.choice(_TYPES),
            "severity": rng.choice(_SEVERITIES),
            "message": f"{user} did something #{index}",
            "actor": {"user": user, "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}"},
            "host": f"host-{rng.randrange(1, 50):02d}",
        }

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("events", ("/v1/events",), ("GET",), partial(self.list, key="events")),
            Endpoint("alerts", ("/v1/alerts",), ("GET",), partial(self.list, key="alerts")),
        ]

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out = dict(rec.fields)
        out["created_at"] = iso(rec.event_ms)
        out["updated_at"] = iso(rec.updated_ms)
        out["version"] = rec.version
        return out

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        key = ctx.request.headers.get("x-api-key")
        if key is not None:
            ctx.token = key
            return None if key == self.profile.secret else self.unauthorized_reply(expired=False)
        return super().authenticate(ctx)

    def has_cursor(self, ctx: RequestContext) -> bool:
        return bool(ctx.query.get("cursor"))

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        remaining = 0 if reply.status == 429 else self.window_remaining()
        return [
            ("X-RateLimit-Limit", str(self.window_limit())),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(int(self.window_reset(ctx.now)))),
        ]

    def list(self, ctx: RequestContext, *, key: str) -> Reply:
        cap = self.profile.max_page_size or 1000
        if "page" in ctx.query or "offset" in ctx.query:
            return self._offset_page(ctx, key, cap)
        limit = int_param(ctx, "limit", 100, 1, cap)
        token = ctx.query.get("cursor")
        after: tuple[int, str] | None = None
        if token:
            c = ctx.decode_cursor(token)
            since, until, after = c.get("since"), c.get("until"), (c["ts"], c["id"])
        else:
            since, until = time_param(ctx, "since"), time_param(ctx, "until")
        keys, ordered = self.dataset.view("event")
        lo = 0 if since is None else bisect.bisect_left(keys, (since, ""))
        hi = len(keys) if until is None else bisect.bisect_left(keys, (until, ""))
        start = lo if after is None else max(lo, bisect.bisect_right(keys, tuple(after)))
        start = max(lo, ctx.duplicate_start(start))
        page = ordered[start : min(start + limit, hi)]
        more = start + limit < hi
        cursor = None
        if more or ctx.never_ending:
            last = (page[-1].event_ms, page[-1].id) if page else after
            if last is None:
                last = (since if since is not None else 0, "")
            cursor = ctx.encode_cursor(
                {"since": since, "until": until, "ts": last[0], "id": last[1]}
            )
        body = {
            "data": {key: [self.render(r) for r in page]},
            "meta": {"next_cursor": cursor, "count": len(page)},
        }
        return Reply(200, body, served=page)

    def _offset_page(self, ctx: RequestContext, key: str, cap: int) -> Reply:
        """``page``/``per_page`` (1-based) or ``offset``/``limit`` over the same ordering."""
        since, until = time_param(ctx, "since"), time_param(ctx, "until")
        matching = self.dataset.between("event", since, None if until is None else until - 1)
        if "page" in ctx.query:
            size = int_param(ctx, "per_page", 100, 1, cap)
            number = int_param(ctx, "page", 1, 1, 10**9)
            offset = (number - 1) * size
        else:
            size = int_param(ctx, "limit", 100, 1, cap)
            offset = int_param(ctx, "offset", 0, 0, 10**9)
        if ctx.drift(matching[:offset]):
            matching = self.dataset.between("event", since, None if until is None else until - 1)
        start = ctx.duplicate_start(offset)
        page = matching[start : offset + size]
        total = len(matching)
        meta: dict[str, Any] = {"total": total, "count": len(page)}
        if "page" in ctx.query:
            meta |= {"page": offset // size + 1, "per_page": size, "total_pages": -(-total // size)}
        else:
            meta |= {"offset": offset, "limit": size}
        return Reply(
            200, {"data": {key: [self.render(r) for r in page]}, "meta": meta}, served=page
        )
