"""1Password Events API: ``POST /api/v1|v2/signinattempts``, a cursor feed with ``has_more``.

The first request is a ResetCursor (``{"limit": 1-1000, "start_time", "end_time"}``, all
optional, default limit 100), the following ones ``{"cursor": ...}`` (both at once: 400). The
response always carries a cursor; ``has_more: false`` means caught up *for now*: re-sending the
same cursor later returns what arrived since (feed semantics, in persistence order, so late and
updated items come after newer ones). Timestamps carry local UTC offsets. 429 has no
``Retry-After``. ``GET /api/v2/auth/introspect`` describes the token.
"""

from __future__ import annotations

import random
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._ids import base32_id
from collectorkit.simulator._timefmt import iso, parse_time_ms

__all__ = ["OnePasswordAPI"]

_OUTCOMES = (
    ("success", "credentials_ok"),
    ("credentials_failed", "password_secret_bad"),
    ("mfa_failed", "mfa_missing"),
    ("firewall_failed", "continent_blocked"),
)
_PLACES = (
    ("CA", "Ontario", "Toronto", -240),
    ("AR", "Buenos Aires", "Buenos Aires", -180),
    ("DE", "Berlin", "Berlin", 60),
    ("US", "Oregon", "Springfield", 0),
)


def _uuid(rng: random.Random) -> str:
    return base32_id(rng, 26)


class OnePasswordAPI(VendorAPI):
    """1Password-shaped sign-in attempts feed."""

    kind = "onepassword"
    id_field = "uuid"
    retry_format = "none"

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        category, kind = rng.choice(_OUTCOMES)
        country, region, city, offset = rng.choice(_PLACES)
        user = _uuid(rng)
        return {
            "uuid": _uuid(rng),
            "session_uuid": _uuid(rng),
            "category": category,
            "type": kind,
            "country": country,
            "details": None,
            "target_user": {
                "uuid": user,
                "name": f"User {index}",
                "email": f"user{index}@example.com",
                "user_account_uuid": user,
            },
            "client": {
                "app_name": "1Password Browser Extension",
                "app_version": "20127",
                "platform_name": "Chrome",
                "os_name": "MacOSX",
                "ip_address": f"198.51.100.{rng.randrange(1, 255)}",
            },
            "location": {"country": country, "region": region, "city": city},
            "account_uuid": "EXAMPLEACCOUNT0000000000DD",
            "tz": offset,
        }

    def endpoints(self) -> list[Endpoint]:
        paths = ("/api/v1/signinattempts", "/api/v2/signinattempts")
        return [
            Endpoint("signinattempts", paths, ("POST",), self.signinattempts),
            Endpoint(
                "introspect", ("/api/v2/auth/introspect",), ("GET",), self.introspect, is_data=False
            ),
        ]

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out = {k: v for k, v in rec.fields.items() if k != "tz"}
        out["timestamp"] = iso(rec.event_ms, digits=0, offset_minutes=rec.fields["tz"])
        return out

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"Error": {"Message": message or code}})

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "unauthorized", "Unauthorized")

    def server_error_reply(self, status: int) -> Reply:
        return self.error(status, "internal", "Internal Server Error")

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(status or 400, "cursor", "the cursor has expired")

    def invalid_cursor_reply(self) -> Reply:
        return self.error(400, "cursor", "invalid cursor")

    def has_cursor(self, ctx: RequestContext) -> bool:
        doc = ctx.json()
        return isinstance(doc, dict) and bool(doc.get("cursor"))

    def introspect(self, ctx: RequestContext) -> Reply:
        body = {
            "uuid": "SIMTOKEN",
            "issued_at": iso(int(ctx.now) * 1000 - 86_400_000, digits=0),
            "features": ["signinattempts"],
            "account_uuid": "EXAMPLEACCOUNT0000000000DD",
        }
        return Reply(200, body)

    def _reset(
        self, ctx: RequestContext, doc: dict[str, Any]
    ) -> tuple[int, int | None, int | None]:
        limit = doc.get("limit", 100)
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 1 <= limit <= (self.profile.max_page_size or 1000)
        ):
            raise VendorError(self.error(400, "limit", f"limit must be 1-1000, got {limit!r}"))
        bounds: list[int | None] = []
        for name in ("start_time", "end_time"):
            raw = doc.get(name)
            ms = parse_time_ms(raw) if isinstance(raw, str) else None
            if raw is not None and ms is None:
                raise VendorError(self.error(400, name, f"{name} must be RFC 3339, got {raw!r}"))
            bounds.append(ms)
        return limit, bounds[0], bounds[1]

    def signinattempts(self, ctx: RequestContext) -> Reply:
        doc = ctx.json()
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise VendorError(self.error(400, "body", "body must be a JSON object"))
        if doc.get("cursor"):
            if set(doc) - {"cursor"}:
                raise VendorError(self.error(400, "body", "send either a cursor or a reset cursor"))
            c = ctx.decode_cursor(str(doc["cursor"]))
            pos, limit, lo, hi = c["s"], c["l"], c["a"], c["b"]
        else:
            limit, lo, hi = self._reset(ctx, doc)
            pos = 0

        def pred(rec: StoredRecord) -> bool:
            return (lo is None or rec.event_ms >= lo) and (hi is None or rec.event_ms <= hi)

        dup = ctx.apply("duplicates") if pos else None
        back = dup.count if dup is not None and pos else 0
        page, more = self.dataset.feed_page(pos, limit, pred, back=back)
        new_pos = page[-1].seq if page else pos
        more = more or ctx.never_ending
        cursor = ctx.encode_cursor({"s": max(new_pos, pos), "l": limit, "a": lo, "b": hi})
        body = {"cursor": cursor, "has_more": more, "items": [self.render(r) for r in page]}
        return Reply(200, body, served=page)
