"""AlienVault OTX: ``GET /api/v1/pulses/subscribed``, page numbers behind a ``next`` URL.

``X-OTX-API-KEY`` header (403 otherwise). ``modified_since`` (inclusive, on ``modified``),
``limit`` (default 20, clamped to 100), ``page`` (1-based). Pulses come newest-``modified``
first, which is the hard case: a pulse modified during a walk (the ``update`` fault) jumps to
page 1, so a page-number walk skips or repeats records. The body carries ``count``, an absolute
``next`` URL (``null`` on the last page) and ``previous``. Timestamps have no zone suffix.
Throttling and errors carry no special headers (undocumented by OTX).
"""

from __future__ import annotations

import random
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._timefmt import iso, parse_time_ms

__all__ = ["OTXAPI"]

_TOPICS = ("phishing", "ransomware", "botnet", "apt", "cryptomining", "infostealer")
_TYPES = ("IPv4", "domain", "hostname", "URL", "FileHash-SHA256", "CVE")


def _indicator(rng: random.Random, kind: str, n: int) -> str:
    if kind == "IPv4":
        return f"203.0.113.{rng.randrange(1, 255)}"
    if kind in ("domain", "hostname"):
        return f"{'www.' if kind == 'hostname' else ''}bad{n}.example.test"
    if kind == "URL":
        return f"https://phish{n}.example.test/login.html"
    if kind == "CVE":
        return f"CVE-2024-{rng.randrange(1000, 99999)}"
    return f"{rng.getrandbits(256):064x}"


class OTXAPI(VendorAPI):
    """OTX-shaped subscribed pulses."""

    kind = "otx"
    id_field = "id"
    retry_format = "none"

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        topic = rng.choice(_TOPICS)
        indicators = []
        for k in range(rng.randrange(1, 4)):
            kind = rng.choice(_TYPES)
            indicators.append(
                {
                    "id": 3_735_000_000 + index * 10 + k,
                    "indicator": _indicator(rng, kind, index * 10 + k),
                    "type": kind,
                    "title": "",
                    "description": "",
                    "content": "",
                    "expiration": None,
                    "is_active": 1,
                    "role": None,
                }
            )
        return {
            "id": f"{index:06x}{rng.getrandbits(72):018x}",
            "name": f"Example {topic} campaign #{index}",
            "description": f"Indicators seen in a {topic} campaign.",
            "author_name": rng.choice(("example-author", "otx-bot", "analyst42")),
            "public": 1,
            "tlp": rng.choice(("white", "green", "amber")),
            "adversary": "",
            "tags": [topic],
            "references": [f"https://example.org/report/{index}"],
            "targeted_countries": [],
            "industries": [],
            "malware_families": [],
            "attack_ids": [],
            "extract_source": [],
            "more_indicators": False,
            "indicators": indicators,
        }

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("pulses", ("/api/v1/pulses/subscribed",), ("GET",), self.pulses)]

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out = dict(rec.fields)
        created = iso(rec.event_ms, digits=6, zone=False)
        out |= {"created": created, "modified": iso(rec.updated_ms, digits=6, zone=False)}
        out["revision"] = rec.version
        out["indicators"] = [
            {**ind, "created": iso(rec.event_ms, digits=0, zone=False)} for ind in out["indicators"]
        ]
        return out

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"detail": message or code})

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        ctx.token = ctx.request.headers.get("x-otx-api-key")
        if self.token_ok(ctx.token, ctx.now):
            return None
        return self.error(403, "forbidden", "Authentication credentials were not provided.")

    def credentials(self, base_url: str) -> dict[str, str]:
        return {"api_key": self.profile.secret, "header": "X-OTX-API-KEY"}

    def pulses(self, ctx: RequestContext) -> Reply:
        q = ctx.query
        try:
            limit = max(1, min(int(q.get("limit", 20)), self.profile.max_page_size or 100))
            page_no = int(q.get("page", 1))
        except ValueError:
            raise VendorError(self.error(400, "bad_request", "Bad Request")) from None
        if page_no < 1:
            raise VendorError(self.error(404, "not_found", "Invalid page."))
        since = None
        if q.get("modified_since"):
            since = parse_time_ms(q["modified_since"])
            if since is None:
                raise VendorError(self.error(400, "bad_request", "Bad Request"))

        def select() -> list[StoredRecord]:
            return self.dataset.between("updated", since, None)[::-1]

        rows = select()
        offset = (page_no - 1) * limit
        if ctx.drift(rows[:offset], "updated"):
            rows = select()
        page = rows[ctx.duplicate_start(offset) : offset + limit]
        base = [("limit", limit), ("modified_since", q.get("modified_since"))]
        more = offset + limit < len(rows) or ctx.never_ending
        path = "/api/v1/pulses/subscribed"
        body = {
            "count": len(rows),
            "next": ctx.url(path, [*base, ("page", page_no + 1)]) if more else None,
            "previous": ctx.url(path, [*base, ("page", page_no - 1)]) if page_no > 1 else None,
            "prefetch_pulse_ids": False,
            "t": 0,
            "t2": 0.106,
            "t3": 0.116,
            "results": [self.render(r) for r in page],
        }
        return Reply(200, body, served=page)
