"""Slack Audit Logs: ``GET /audit/v1/logs``, newest first, cursor in ``response_metadata``.

``oldest``/``latest`` are inclusive Unix seconds on ``date_create`` (second granularity, so many
entries share a second); ``limit`` 1-9999 (default 100); ``action`` (comma list), ``actor`` and
``entity`` filter. A walk covers what existed when it started: entries inserted during the walk
are not in it (the next poll must find them). ``next_cursor`` is ``""`` on the last page.
Errors are ``{"ok": false, "error": "..."}``; throttling is 429 + ``Retry-After`` seconds.
"""

from __future__ import annotations

import random
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._ids import uuid4

__all__ = ["SlackAPI"]

_ACTIONS = ("user_login", "user_logout", "file_downloaded", "user_channel_join", "app_installed")
_ENTITIES = ("user", "channel", "file", "app", "workspace")


class SlackAPI(VendorAPI):
    """Slack-shaped audit log (Enterprise org token ``xoxp-...``)."""

    kind = "slack"
    id_field = "id"
    granularity = 1000
    rate_limit_header_default = 50

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        entity = rng.choice(_ENTITIES)
        uid = f"W{rng.randrange(10**8):08d}"
        return {
            "id": uuid4(rng),
            "action": rng.choice(_ACTIONS),
            "actor": {
                "type": "user",
                "user": {
                    "id": uid,
                    "name": f"User {uid}",
                    "email": f"{uid.lower()}@example.com",
                    "team": "T0123ABCD",
                },
            },
            "entity": {
                "type": entity,
                entity: {"id": f"{entity[0].upper()}{index:08d}", "name": f"{entity}-{index}"},
            },
            "context": {
                "location": {
                    "type": "workspace",
                    "id": "T0123ABCD",
                    "name": "Example WS",
                    "domain": "example-ws",
                },
                "ua": "Mozilla/5.0",
                "ip_address": f"198.51.100.{rng.randrange(1, 255)}",
                "session_id": rng.randrange(10**11, 10**12),
            },
            "details": {},
        }

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("logs", ("/audit/v1/logs",), ("GET",), self.logs)]

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        return {
            "id": rec.id,
            "date_create": rec.event_ms // 1000,
            **{k: v for k, v in rec.fields.items() if k != "id"},
        }

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"ok": False, "error": code})

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        scheme, _, token = ctx.request.headers.get("authorization", "").partition(" ")
        ctx.token = token.strip()
        if scheme.lower() != "bearer" or not ctx.token:
            return self.error(401, "not_authed", "")
        if not ctx.token.startswith("xoxp-"):
            return self.error(403, "not_allowed_token_type", "")
        return None if self.token_ok(ctx.token, ctx.now) else self.error(401, "invalid_auth", "")

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "token_expired" if expired else "invalid_auth", "")

    def throttle_reply(self, ctx: RequestContext, spec: Any) -> Reply:
        reply = self.error(429, "ratelimited", "")
        reply.headers += self.retry_headers(ctx, spec)
        return reply

    def server_error_reply(self, status: int) -> Reply:
        return self.error(status, "internal_error", "")

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(status or 400, "invalid_cursor", "")

    def invalid_cursor_reply(self) -> Reply:
        return self.error(400, "invalid_cursor", "")

    def has_cursor(self, ctx: RequestContext) -> bool:
        return bool(ctx.query.get("cursor"))

    def _int(
        self, ctx: RequestContext, name: str, default: int | None, low: int, high: int
    ) -> int | None:
        raw = ctx.query.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise VendorError(self.error(400, "invalid_arguments", name)) from None
        if not low <= value <= high:
            raise VendorError(self.error(400, "invalid_arguments", name))
        return value

    def logs(self, ctx: RequestContext) -> Reply:
        q = ctx.query
        limit = self._int(ctx, "limit", 100, 1, self.profile.max_page_size or 9999) or 100
        if q.get("cursor"):
            c = ctx.decode_cursor(q["cursor"])
            oldest, latest, snap, last = c["o"], c["l"], c["s"], (c["t"], c["i"])
        else:
            oldest = self._int(ctx, "oldest", None, 0, 10**11)
            latest = self._int(ctx, "latest", None, 0, 10**11)
            snap, last = ctx.now_ms, None
        actions = set(filter(None, (q.get("action") or "").split(",")))
        actor, entity = q.get("actor"), q.get("entity")
        lo = None if oldest is None else oldest * 1000
        hi = None if latest is None else latest * 1000 + 999
        rows = [
            r
            for r in self.dataset.between("event", lo, hi)
            if r.inserted_ms <= snap
            and (not actions or r.fields["action"] in actions)
            and (actor is None or r.fields["actor"]["user"]["id"] == actor)
            and (entity is None or r.fields["entity"][r.fields["entity"]["type"]]["id"] == entity)
        ]
        rows.reverse()
        start = (
            0
            if last is None
            else next(
                (i for i, r in enumerate(rows) if (r.event_ms, r.id) < tuple(last)), len(rows)
            )
        )
        page = rows[ctx.duplicate_start(start) : start + limit]
        cursor = ""
        if start + limit < len(rows) or ctx.never_ending:
            end = rows[start : start + limit]
            t, i = (end[-1].event_ms, end[-1].id) if end else (last or (0, ""))
            cursor = ctx.encode_cursor({"o": oldest, "l": latest, "s": snap, "t": t, "i": i})
        body = {
            "entries": [self.render(r) for r in page],
            "response_metadata": {"next_cursor": cursor},
        }
        return Reply(200, body, served=page)
