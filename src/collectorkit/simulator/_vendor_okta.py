"""Okta System Log: ``GET /api/v1/logs`` (bare JSON array, Link headers) and ``/oauth2/v1/token``.

Two modes, as Okta documents them. *Polling* (no ``until`` and ``sortOrder=ASCENDING``): events
in persistence order (so late events arrive after newer ones, out of ``published`` order), and a
``rel="next"`` link on **every** page, empty ones included — the end of what exists now is an
empty page. *Bounded* (``until`` given, or ``DESCENDING``): events with ``since <= published <
until`` in ``published`` order; the last page has no ``next`` link. ``after`` comes only from
next links and cannot be combined with ``since`` (400). ``limit`` 0-1000, default 100.
``X-Rate-Limit-Limit/Remaining/Reset`` (epoch seconds) on every response; 429 carries
``E0000047`` and Remaining 0 and no ``Retry-After`` by default. The token endpoint requires
``private_key_jwt`` as Okta does for ``okta.*`` scopes: a client secret gets ``invalid_client``.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._ids import uuid4
from collectorkit.simulator._timefmt import iso, parse_time_ms
from collectorkit.simulator._vendor_generic import int_param

__all__ = ["OktaAPI", "private_key_pem", "signing_key"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The service app's key pair (one per process): clients sign with the private half."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem() -> str:
    """The private key a client uses for private_key_jwt, PEM (PKCS#8)."""
    return (
        signing_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


_EVENTS = (
    ("user.session.start", "User login to Okta", "INFO"),
    ("user.session.end", "User logout from Okta", "INFO"),
    ("user.authentication.auth_via_mfa", "Authentication of user via MFA", "INFO"),
    ("policy.evaluate_sign_on", "Evaluation of sign-on policy", "INFO"),
    ("user.account.lock", "Max sign in attempts exceeded", "WARN"),
    ("system.org.rate_limit.warning", "Rate limit warning", "WARN"),
)
_USERS = ("alice", "bob", "carol", "dave", "erin")
_FILTER = re.compile(r'^\s*(eventType|severity|actor\.alternateId)\s+eq\s+"([^"]*)"\s*$')
_DAY_MS = 86_400_000


def _equals(path: str, value: str) -> Callable[[StoredRecord], bool]:
    def pred(rec: StoredRecord) -> bool:
        current: Any = rec.fields
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return bool(current == value)

    return pred


class OktaAPI(VendorAPI):
    """Okta-shaped System Log with SSWS tokens and an org OAuth token endpoint."""

    kind = "okta"
    id_field = "uuid"
    retry_format = "none"
    rate_limit_header_default = 1200

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        event_type, message, severity = rng.choice(_EVENTS)
        user = rng.choice(_USERS)
        ip = f"198.51.100.{rng.randrange(1, 255)}"
        return {
            "uuid": uuid4(rng),
            "eventType": event_type,
            "version": "0",
            "severity": severity,
            "displayMessage": message,
            "actor": {
                "id": f"00u{index:06d}",
                "type": "User",
                "alternateId": f"{user}@example.com",
                "displayName": user.title(),
            },
            "client": {
                "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
                "zone": "null",
                "device": "Computer",
                "ipAddress": ip,
            },
            "outcome": {"result": rng.choice(("SUCCESS", "SUCCESS", "FAILURE")), "reason": None},
            "transaction": {"type": "WEB", "id": f"tx{rng.getrandbits(40):010x}", "detail": {}},
            "debugContext": {
                "debugData": {"requestId": f"req{index}", "requestUri": "/idp/idx/identify"}
            },
            "authenticationContext": {
                "authenticationStep": 0,
                "externalSessionId": f"102{rng.getrandbits(32):08x}",
            },
            "securityContext": {
                "asNumber": 64496,
                "asOrg": "example isp",
                "isp": "example isp",
                "domain": "example.net",
                "isProxy": False,
            },
            "request": {"ipChain": [{"ip": ip, "version": "V4", "source": None}]},
            "target": [
                {
                    "id": f"0oa{index:05d}",
                    "type": "AppInstance",
                    "alternateId": "Example App",
                    "displayName": "Example App",
                }
            ],
        }

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("logs", ("/api/v1/logs",), ("GET",), self.logs),
            Endpoint(
                "token", ("/oauth2/v1/token",), ("POST",), self.token, is_data=False, auth=False
            ),
        ]

    def credentials(self, base_url: str) -> dict[str, str]:
        return {
            "token": self.profile.secret,
            "authorization": f"SSWS {self.profile.secret}",
            "client_id": self.profile.client_id,
            "private_key": private_key_pem(),
            "token_url": base_url + "/oauth2/v1/token",
            "scope": "okta.logs.read",
        }

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out = dict(rec.fields)
        out["published"] = iso(rec.event_ms)
        out["legacyEventType"] = None
        return out

    def error(self, status: int, code: str, message: str) -> Reply:
        if not code.startswith("E0"):  # shared helpers name the problem; Okta codes it
            code, message = "E0000001", f"Api validation failed: {message}"
        body = {
            "errorCode": code,
            "errorSummary": message,
            "errorLink": code,
            "errorId": f"sim{code}",
            "errorCauses": [],
        }
        return Reply(status, body)

    def _bad(self, message: str, code: str = "E0000001") -> VendorError:
        reply = self.error(400, code, "Api validation failed: " + message)
        reply.body["errorCauses"] = [{"errorSummary": message}]
        return VendorError(reply)

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        scheme, _, value = ctx.request.headers.get("authorization", "").partition(" ")
        ctx.token = value.strip()
        if scheme == "SSWS" and ctx.token == self.profile.secret:
            return None
        if (
            scheme.lower() == "bearer"
            and ctx.token in self.tokens
            and self.token_ok(ctx.token, ctx.now)
        ):
            return None
        return self.unauthorized_reply(expired=False)

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "E0000011", "Invalid token provided")

    def throttle_reply(self, ctx: RequestContext, spec: Any) -> Reply:
        reply = self.error(
            spec.status if spec and spec.status else 429,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
        reset = math.ceil(ctx.now + spec.retry_after) if spec else int(self.window_reset(ctx.now))
        reply.headers += [
            ("X-Rate-Limit-Limit", str(self.window_limit())),
            ("X-Rate-Limit-Remaining", "0"),
            ("X-Rate-Limit-Reset", str(reset)),
        ]
        reply.headers += self.retry_headers(ctx, spec)
        return reply

    def server_error_reply(self, status: int) -> Reply:
        return self.error(status, "E0000009", "Internal Server Error")

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(
            status or 400, "E0000001", "Api validation failed: after (the cursor has expired)"
        )

    def invalid_cursor_reply(self) -> Reply:
        return self.error(400, "E0000001", "Api validation failed: after")

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        if reply.status == 429:
            return []
        return [
            ("X-Rate-Limit-Limit", str(self.window_limit())),
            ("X-Rate-Limit-Remaining", str(self.window_remaining())),
            ("X-Rate-Limit-Reset", str(int(self.window_reset(ctx.now)))),
        ]

    def has_cursor(self, ctx: RequestContext) -> bool:
        return bool(ctx.query.get("after"))

    # -- OAuth ----------------------------------------------------------------------------
    def token(self, ctx: RequestContext) -> Reply:
        form = {k: v[0] for k, v in parse_qs(ctx.body.decode("latin-1")).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
            )
        if "okta.logs.read" not in form.get("scope", "").split():
            return Reply(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "scope must include okta.logs.read",
                },
            )
        refused = self._client_auth_problem(ctx, form)
        if refused:
            return Reply(401, {"error": "invalid_client", "error_description": refused})
        token, lifetime = self.issue_token(ctx.now)
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "access_token": token,
                "scope": "okta.logs.read",
            },
        )

    def _client_auth_problem(self, ctx: RequestContext, form: dict[str, str]) -> str | None:
        """Why the client's authentication is refused, or ``None``: okta.* scopes need
        private_key_jwt — an RS256 assertion signed with the key of ``credentials()``, naming
        the client as ``iss`` and ``sub`` and the token endpoint as ``aud``, not expired."""
        assertion = form.get("client_assertion")
        if not assertion:
            if form.get("client_secret") or ctx.request.headers.get("authorization"):
                return (
                    "Client secrets are not accepted for okta.* scopes: "
                    "use private_key_jwt (client_assertion)."
                )
            return "client_assertion is required (private_key_jwt)."
        if form.get("client_assertion_type") != JWT_BEARER:
            return f"client_assertion_type must be {JWT_BEARER}."
        try:
            claims = jwt.decode(
                assertion,
                signing_key().public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            return f"The client_assertion is invalid: {exc}."
        if (
            claims.get("iss") != self.profile.client_id
            or claims.get("sub") != self.profile.client_id
        ):
            return "The client_assertion's iss and sub must be the client id."
        if not str(claims.get("aud", "")).endswith("/oauth2/v1/token"):
            return "The client_assertion's aud must be the token endpoint."
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= ctx.now:
            return "The client_assertion has expired."
        return None

    # -- logs -----------------------------------------------------------------------------
    def _matcher(self, ctx: RequestContext) -> Callable[[StoredRecord], bool]:
        preds: list[Callable[[StoredRecord], bool]] = []
        text = ctx.query.get("filter")
        if text:
            for clause in re.split(r"\s+and\s+", text):
                m = _FILTER.match(clause)
                if not m:
                    raise self._bad(f"filter {clause!r} is not supported", "E0000031")
                preds.append(_equals(m[1], m[2]))
        words = (ctx.query.get("q") or "").lower().split()

        def match(rec: StoredRecord) -> bool:
            f = rec.fields
            text = f"{f['displayMessage']} {f['eventType']} {f['actor']['alternateId']}".lower()
            return all(w in text for w in words) and all(p(rec) for p in preds)

        return match

    def _time(self, ctx: RequestContext, name: str) -> int | None:
        raw = ctx.query.get(name)
        if raw is None:
            return None
        ms = parse_time_ms(raw)
        if ms is None or "T" not in raw:
            raise self._bad(f"{name}: {raw!r} is not an RFC 3339 time")
        return ms

    def logs(self, ctx: RequestContext) -> Reply:
        q = ctx.query
        limit = int_param(ctx, "limit", 100, 0, self.profile.max_page_size or 1000)
        order = q.get("sortOrder", "ASCENDING")
        if order not in ("ASCENDING", "DESCENDING"):
            raise self._bad(f"sortOrder: {order!r} is not ASCENDING or DESCENDING")
        if q.get("after") and q.get("since"):
            raise self._bad("since and after cannot be used together")
        match = self._matcher(ctx)
        cursor = ctx.decode_cursor(q["after"]) if q.get("after") else None
        since, until = self._time(ctx, "since"), self._time(ctx, "until")
        if since is not None and since < ctx.now_ms - 180 * _DAY_MS:
            raise self._bad(
                "The since parameter is over 180 days prior to the current day", "E0000053"
            )
        polling = (cursor["m"] == "poll") if cursor else (until is None and order == "ASCENDING")
        links = [("self", str(ctx.request.url))]
        params = [
            ("limit", limit),
            ("sortOrder", order),
            ("filter", q.get("filter")),
            ("q", q.get("q")),
        ]
        if polling:
            page, poll_after = self._poll(ctx, cursor, since, limit, match)
            links.append(("next", ctx.url("/api/v1/logs", [*params, ("after", poll_after)])))
        else:
            page, after = self._bounded(ctx, cursor, since, until, order, limit, match)
            if after is not None:
                links.append(("next", ctx.url("/api/v1/logs", [*params, ("after", after)])))
        headers = [("Link", f'<{url}>; rel="{rel}"') for rel, url in links]
        return Reply(200, [self.render(r) for r in page], headers, served=page)

    def _poll(
        self,
        ctx: RequestContext,
        cursor: dict[str, Any] | None,
        since: int | None,
        limit: int,
        match: Callable[[StoredRecord], bool],
    ) -> tuple[list[StoredRecord], str]:
        """Persistence order from the cursor's position; the cursor keeps ``since``."""
        if cursor is None:
            pos, lo = 0, since if since is not None else ctx.now_ms - 7 * _DAY_MS
        else:
            pos, lo = int(cursor["s"]), int(cursor["a"])
        dup = ctx.apply("duplicates") if cursor is not None else None
        back = dup.count if dup is not None and cursor is not None else 0

        def pred(rec: StoredRecord) -> bool:
            return rec.inserted_ms >= lo and match(rec)

        page, _ = self.dataset.feed_page(pos, limit, pred, back=back)
        last = max(page[-1].seq, pos) if page else pos
        return page, ctx.encode_cursor({"m": "poll", "s": last, "a": lo})

    def _bounded(
        self,
        ctx: RequestContext,
        cursor: dict[str, Any] | None,
        since: int | None,
        until: int | None,
        order: str,
        limit: int,
        match: Callable[[StoredRecord], bool],
    ) -> tuple[list[StoredRecord], str | None]:
        if cursor is not None:
            since, until, order = cursor["a"], cursor["b"], cursor["o"]
        until = until if until is not None else ctx.now_ms
        since = since if since is not None else until - 7 * _DAY_MS
        rows = [r for r in self.dataset.between("event", since, until - 1) if match(r)]
        desc = order == "DESCENDING"
        if desc:
            rows.reverse()
        idx = 0
        if cursor is not None:
            key = (cursor["t"], cursor["i"])
            idx = next(
                (
                    i
                    for i, r in enumerate(rows)
                    if ((r.event_ms, r.id) < key if desc else (r.event_ms, r.id) > key)
                ),
                len(rows),
            )
        start = ctx.duplicate_start(idx)
        page = rows[start : idx + limit] if limit else []
        more = idx + limit < len(rows)
        if not (more or ctx.never_ending) or (not page and not ctx.never_ending):
            return page, None
        t, i = (
            (page[-1].event_ms, page[-1].id)
            if page
            else (cursor["t"], cursor["i"])
            if cursor
            else (since, "")
        )
        return page, ctx.encode_cursor(
            {"m": "bounded", "a": since, "b": until, "o": order, "t": t, "i": i}
        )
