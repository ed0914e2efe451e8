"""GitHub audit log: ``GET /orgs/{org}/audit-log`` with Link-header cursors.

``phrase`` understands ``created:>=T``, ``created:>T``, ``created:<=T``, ``created:<T``,
``created:A..B``, ``action:X`` and ``actor:X`` (times RFC 3339 or dates); ``order`` is ``desc``
by default (!), ``per_page`` defaults to 30 and is clamped to 100. Cursors are GitHub's own
format, base64 of ``"<@timestamp as float>|<_document_id>"``; ``after`` pages forward in the
requested order, ``before`` backward. One ``link`` header lists ``next`` (absent on the last
page), ``first`` and ``prev``, pointing at ``/organizations/{numeric id}/audit-log`` as GitHub
does. ``x-ratelimit-*`` headers on every response; throttling is 429 (or 403 with
``status=403``) with ``x-ratelimit-remaining: 0`` and a ``retry-after``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import random
import re
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._ids import url_id
from collectorkit.simulator._timefmt import parse_time_ms

__all__ = ["GitHubAPI"]

ORG, ORG_ID, ENTERPRISE = "example-org", 7654321, "example-enterprise"
_DOCS = "https://docs.github.com/rest/orgs/orgs#get-the-audit-log-for-an-organization"
_ACTIONS = (
    "repo.create",
    "repo.destroy",
    "org.add_member",
    "team.add_member",
    "git.clone",
    "workflows.completed_workflow_run",
    "protected_branch.update",
)
_ACTORS = ("alice", "bob", "carol", "github-actions[bot]")
_CREATED = re.compile(r"^created:(>=|>|<=|<)?(.+)$")


def _cursor(rec: StoredRecord) -> str:
    text = f"{float(rec.event_ms):.12e}|{rec.id}"
    return base64.b64encode(text.encode()).decode()


class GitHubAPI(VendorAPI):
    """GitHub-shaped organization audit log."""

    kind = "github"
    id_field = "_document_id"
    rate_limit_header_default = 5000

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        action = rng.choice(_ACTIONS)
        out: dict[str, Any] = {
            "_document_id": url_id(rng, 18) + f"{index:04x}",
            "action": action,
            "actor": rng.choice(_ACTORS),
            "actor_id": 1000 + rng.randrange(50),
            "actor_location": {"country_code": rng.choice(("US", "DE", "BR", "JP"))},
            "org": ORG,
            "org_id": ORG_ID,
            "business": ENTERPRISE,
            "operation_type": action.split(".")[-1],
            "request_id": f"E1C2:{rng.getrandbits(32):08X}",
            "user_agent": "Mozilla/5.0",
        }
        if action.startswith(("repo.", "git.", "workflows.", "protected_branch.")):
            out["repo"] = f"{ORG}/repo-{rng.randrange(20)}"
        if action.startswith("workflows."):
            out |= {"workflow_run_id": 628000000 + index, "conclusion": "success", "name": "CI"}
        return out

    def endpoints(self) -> list[Endpoint]:
        paths = (
            "/orgs/{org}/audit-log",
            "/organizations/{org}/audit-log",
            "/enterprises/{org}/audit-log",
        )
        return [Endpoint("audit_log", paths, ("GET",), self.audit_log)]

    def credentials(self, base_url: str) -> dict[str, str]:
        return {"token": self.profile.secret, "org": ORG, "url": f"{base_url}/orgs/{ORG}/audit-log"}

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        return {"@timestamp": rec.event_ms, "created_at": rec.event_ms, **rec.fields}

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(
            status, {"message": message, "documentation_url": _DOCS, "status": str(status)}
        )

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        scheme, _, value = ctx.request.headers.get("authorization", "").partition(" ")
        ctx.token = value.strip()
        if scheme.lower() in ("bearer", "token") and self.token_ok(ctx.token, ctx.now):
            return None
        return self.unauthorized_reply(expired=False)

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "unauthorized", "Bad credentials")

    def throttle_reply(self, ctx: RequestContext, spec: Any) -> Reply:
        status = spec.status if spec and spec.status in (403, 429) else 429
        reply = self.error(status, "rate_limited", "API rate limit exceeded for user ID 1000.")
        reset = math.ceil(ctx.now + spec.retry_after) if spec else int(self.window_reset(ctx.now))
        reply.headers += self._rate(ctx, 0, reset)
        reply.headers += self.retry_headers(ctx, spec)
        return reply

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(status or 422, "cursor", "The cursor has expired. Start a new search.")

    def invalid_cursor_reply(self) -> Reply:
        return self.error(422, "cursor", "Invalid cursor.")

    def _rate(self, ctx: RequestContext, remaining: int, reset: int) -> list[tuple[str, str]]:
        limit = self.window_limit()
        return [
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(remaining)),
            ("x-ratelimit-used", str(limit - remaining)),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-resource", "audit_log"),
        ]

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        if reply.status in (403, 429) and any(
            k == "x-ratelimit-remaining" for k, _ in reply.headers
        ):
            return []
        return self._rate(ctx, self.window_remaining(), int(self.window_reset(ctx.now)))

    def has_cursor(self, ctx: RequestContext) -> bool:
        return bool(ctx.query.get("after") or ctx.query.get("before"))

    def _decode(self, token: str) -> tuple[int, str]:
        try:
            ts, _, doc_id = base64.b64decode(token, validate=True).decode().partition("|")
            return int(float(ts)), doc_id
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise VendorError(self.invalid_cursor_reply()) from None

    def _phrase(self, phrase: str) -> tuple[int | None, int | None, dict[str, str]]:
        lo: int | None = None
        hi: int | None = None
        eq: dict[str, str] = {}
        for term in phrase.split():
            m = _CREATED.match(term)
            if m is None:
                name, _, value = term.partition(":")
                if name in ("action", "actor") and value:
                    eq[name] = value
                continue
            op, value = m[1], m[2]
            a, _, b = value.partition("..") if op is None else (value, "", "")
            ta, tb = parse_time_ms(a), parse_time_ms(b) if b else None
            if ta is None or (b and tb is None):
                raise VendorError(self.error(422, "phrase", f"Invalid phrase: {term}"))
            day = 86_399_999 if "T" not in a else 0
            if op in (">=", None):
                lo = ta
            if op == ">":
                lo = ta + 1 + day
            if op == "<=" or (op is None and not b):
                hi = ta + day
            if op == "<":
                hi = ta - 1
            if tb is not None:
                hi = tb + (86_399_999 if "T" not in b else 0)
        return lo, hi, eq

    def audit_log(self, ctx: RequestContext) -> Reply:
        org = ctx.request.path_params["org"]
        if org not in (ORG, str(ORG_ID), ENTERPRISE):
            raise VendorError(self.error(404, "not_found", "Not Found"))
        q = ctx.query
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise VendorError(self.error(422, "order", f"order must be asc or desc, not {order!r}"))
        try:
            per_page = max(1, min(int(q.get("per_page", 30)), self.profile.max_page_size or 100))
            page_no = max(1, int(q.get("page", 1)))
        except ValueError:
            raise VendorError(
                self.error(422, "per_page", "per_page and page must be integers")
            ) from None
        lo, hi, eq = self._phrase(q.get("phrase", ""))
        all_keys, ordered = self.dataset.view("event")
        a = 0 if lo is None else bisect.bisect_left(all_keys, (lo, ""))
        b = len(all_keys) if hi is None else bisect.bisect_right(all_keys, (hi, "\U0010ffff"))
        rows, keys = ordered[a:b], all_keys[a:b]
        if eq:
            kept = [
                i for i, r in enumerate(rows) if all(r.fields.get(k) == v for k, v in eq.items())
            ]
            rows, keys = [rows[i] for i in kept], [keys[i] for i in kept]
        n, asc = len(rows), order == "asc"
        if not asc:
            rows = rows[::-1]
        if q.get("after"):
            key = self._decode(q["after"])
            start = bisect.bisect_right(keys, key) if asc else n - bisect.bisect_left(keys, key)
        elif q.get("before"):
            key = self._decode(q["before"])
            end = bisect.bisect_left(keys, key) if asc else n - bisect.bisect_right(keys, key)
            start = max(0, end - per_page)
        else:
            start = (page_no - 1) * per_page
        page = rows[ctx.duplicate_start(start) : start + per_page]
        links = self._links(
            ctx,
            q,
            rows[start : start + per_page],
            start + per_page < len(rows) or ctx.never_ending,
            start > 0,
        )
        return Reply(
            200, [self.render(r) for r in page], [("link", links)] if links else [], served=page
        )

    def _links(
        self, ctx: RequestContext, q: Any, page: list[StoredRecord], more: bool, has_prev: bool
    ) -> str:
        base = [(k, q.get(k)) for k in ("phrase", "include", "order")] + [
            ("per_page", q.get("per_page", "30"))
        ]
        path = f"/organizations/{ORG_ID}/audit-log"
        out = []
        if more:
            after = _cursor(page[-1]) if page else q.get("after", "")
            out.append(f'<{ctx.url(path, [*base, ("after", after), ("before", "")])}>; rel="next"')
        out.append(f'<{ctx.url(path, [*base, ("after", ""), ("before", "")])}>; rel="first"')
        if has_prev and page:
            prev = ctx.url(path, [*base, ("after", ""), ("before", _cursor(page[0]))])
            out.append(f'<{prev}>; rel="prev"')
        return ", ".join(out)
