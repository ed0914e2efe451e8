"""The request pipeline every vendor endpoint shares, and the base class of the vendor APIs.

Per request: count it, let the fault plan decide, reset or delay if told, authenticate, answer
throttling / server errors / expired cursors / token expiry in the vendor's dialect, apply the
dataset faults (late arrivals, updates), run the vendor handler (which applies duplicates, offset
drift and never-ending cursors where its paging allows), corrupt the body if told, and write what
was served to the ledger.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from collectorkit.simulator._config import ProfileConfig
from collectorkit.simulator._dataset import Dataset, StoredRecord, ViewKey
from collectorkit.simulator._faults import RequestInfo
from collectorkit.simulator._faultspec import FaultSpec
from collectorkit.simulator._reset import reset_connection
from collectorkit.simulator._timefmt import http_date

if TYPE_CHECKING:
    from collectorkit.simulator._app import Simulator

__all__ = ["Endpoint", "EndpointApp", "Reply", "RequestContext", "VendorAPI", "VendorError"]


@dataclass(slots=True)
class Reply:
    """A response before encoding; ``served`` are the records it carries (for the ledger)."""

    status: int = 200
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    served: list[StoredRecord] = field(default_factory=list)


class VendorError(Exception):
    """Raised by a handler to answer with ``reply`` (an error in the vendor's shape)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route of a profile. ``is_data`` routes serve records; others issue tokens etc."""

    name: str
    paths: tuple[str, ...]
    methods: tuple[str, ...]
    handler: Callable[[RequestContext], Reply]
    is_data: bool = True
    auth: bool = True


@dataclass(slots=True)
class RequestContext:
    """Everything a handler needs about one request, plus the fault effects it must apply."""

    request: Request
    api: VendorAPI
    endpoint: Endpoint
    body: bytes
    now: float
    faults: list[FaultSpec] = field(default_factory=list)
    token: str | None = None
    applied: list[str] = field(default_factory=list)
    _json: Any = None

    @property
    def now_ms(self) -> int:
        return int(self.now * 1000)

    @property
    def query(self) -> Any:
        return self.request.query_params

    def json(self) -> Any:
        """The body as JSON; a 400 in the vendor's shape when it is not."""
        if self._json is None:
            try:
                self._json = orjson.loads(self.body or b"null")
            except orjson.JSONDecodeError:
                raise VendorError(self.api.error(400, "bad_request", "body is not JSON")) from None
        return self._json

    def fault(self, kind: str) -> FaultSpec | None:
        return next((f for f in self.faults if f.kind == kind), None)

    def apply(self, kind: str) -> FaultSpec | None:
        """The fired fault of ``kind``, noting that it took effect (for the stats)."""
        spec = self.fault(kind)
        if spec is not None and kind not in self.applied:
            self.applied.append(kind)
        return spec

    def url(self, path: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
        """An absolute URL on this profile (for next links)."""
        base = str(self.request.base_url).rstrip("/") + self.api.profile.mount + path
        query = urlencode(
            [
                (k, v)
                for k, v in (params.items() if isinstance(params, dict) else params)
                if v is not None
            ]
        )
        return base + ("?" + query if query else "")

    # -- fault effects a handler applies -----------------------------------------------
    @property
    def never_ending(self) -> bool:
        return self.apply("never_ending") is not None

    def duplicate_start(self, start: int) -> int:
        """The page start moved back by the ``duplicates`` fault: the tail of the previous page."""
        if start <= 0 or self.fault("duplicates") is None:
            return start
        spec = self.apply("duplicates")
        return max(0, start - spec.count) if spec else start

    def drift(self, passed: list[StoredRecord], key: ViewKey = "event") -> bool:
        """Offset drift: insert records whose times fall among those already walked past."""
        if self.fault("offset_drift") is None or not passed:
            return False
        spec = self.apply("offset_drift")
        if spec is None:  # pragma: no cover - checked just above
            return False
        rng = self.api.rng
        times = [rng.choice(passed).time(key) for _ in range(spec.count)]
        self.api.dataset.add_at(times, now_ms=self.now_ms)
        return True

    # -- cursors ------------------------------------------------------------------------
    def encode_cursor(self, data: dict[str, Any]) -> str:
        raw = orjson.dumps({"v": data, "t": round(self.now, 3), "p": self.api.profile.name})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, token: str) -> dict[str, Any]:
        """The cursor's data; vendor 400 when forged, vendor expired-cursor error past its TTL."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            doc = orjson.loads(raw)
            data, issued = doc["v"], float(doc["t"])
            if doc.get("p") != self.api.profile.name or not isinstance(data, dict):
                raise ValueError("cursor of another profile")
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise VendorError(self.api.invalid_cursor_reply()) from None
        ttl = self.api.profile.cursor_ttl
        if ttl is not None and self.now - issued > ttl:
            raise VendorError(self.api.expired_cursor_reply(None))
        return data


class VendorAPI:
    """Base of the vendor shapes: shared auth, throttling, token and error plumbing."""

    kind: ClassVar[str]
    id_field: ClassVar[str]
    granularity: ClassVar[int] = 1
    retry_format: ClassVar[str] = "seconds"
    rate_limit_header_default: ClassVar[int] = 600
    default_token_lifetime: ClassVar[float] = 3600.0

    def __init__(self, profile: ProfileConfig, dataset: Dataset, rng: random.Random) -> None:
        self.profile = profile
        self.dataset = dataset
        self.rng = rng
        self.tokens: dict[str, float] = {}  # OAuth access token -> expiry (epoch s)
        self._minute = (0.0, 0)  # (minute start, requests in it)
        self.grown = 0
        self.started: float | None = None

    # -- what a vendor module provides ---------------------------------------------------
    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def endpoints(self) -> list[Endpoint]:
        raise NotImplementedError

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        raise NotImplementedError

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"error": {"code": code, "message": message}})

    # -- overridable defaults -------------------------------------------------------------
    def has_cursor(self, ctx: RequestContext) -> bool:
        return False

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        """Accept ``Bearer <token>`` (static token or a live OAuth token)."""
        header = ctx.request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        ctx.token = value.strip()
        if scheme.lower() == "bearer" and self.token_ok(ctx.token, ctx.now):
            return None
        return self.unauthorized_reply(expired=ctx.token in self.tokens)

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(401, "unauthorized", "token expired" if expired else "bad credentials")

    def throttle_reply(self, ctx: RequestContext, spec: FaultSpec | None) -> Reply:
        status = spec.status if spec and spec.status else 429
        reply = self.error(status, "rate_limited", "too many requests")
        reply.headers += self.retry_headers(ctx, spec)
        return reply

    def retry_headers(self, ctx: RequestContext, spec: FaultSpec | None) -> list[tuple[str, str]]:
        delay = spec.retry_after if spec else self.window_reset(ctx.now) - ctx.now
        fmt = (spec.retry_after_format if spec else None) or self.retry_format
        if fmt == "seconds":
            return [("Retry-After", str(math.ceil(delay)))]
        if fmt == "http-date":
            return [("Retry-After", http_date(math.ceil(ctx.now + delay)))]
        return []

    def server_error_reply(self, status: int) -> Reply:
        return self.error(status, "server_error", "simulated server error")

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(status or 410, "cursor_expired", "the cursor has expired")

    def invalid_cursor_reply(self) -> Reply:
        return self.error(400, "invalid_cursor", "the cursor is not valid")

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        """Headers on every response of a data endpoint (rate-limit counters, request ids)."""
        return []

    def credentials(self, base_url: str) -> dict[str, str]:
        """What a client needs to authenticate (the profile's fake credentials)."""
        return {"token": self.profile.secret}

    # -- OAuth tokens ---------------------------------------------------------------------
    def issue_token(self, now: float) -> tuple[str, int]:
        token = "sim." + secrets.token_urlsafe(24)
        lifetime = self.profile.token_lifetime
        if lifetime is None:
            lifetime = self.default_token_lifetime
        self.tokens[token] = now + lifetime
        return token, int(lifetime)

    def token_ok(self, token: str | None, now: float) -> bool:
        if not token:
            return False
        if token == self.profile.secret:
            return True
        expiry = self.tokens.get(token)
        return expiry is not None and now < expiry

    def revoke(self, token: str | None) -> None:
        if token in self.tokens:
            self.tokens[token] = 0.0

    # -- per-minute budget ----------------------------------------------------------------
    def count_request(self, now: float) -> None:
        start = now - now % 60
        w_start, n = self._minute
        self._minute = (start, n + 1 if w_start == start else 1)

    def window_limit(self) -> int:
        return self.profile.rate_limit_per_minute or self.rate_limit_header_default

    def window_remaining(self) -> int:
        """Requests left this minute; never 0 unless a real budget is configured."""
        left = self.window_limit() - self._minute[1]
        return max(0 if self.profile.rate_limit_per_minute else 1, left)

    def window_reset(self, now: float) -> float:
        return (now - now % 60) + 60

    def over_budget(self) -> bool:
        limit = self.profile.rate_limit_per_minute
        return limit is not None and self._minute[1] > limit

    # -- growth ---------------------------------------------------------------------------
    def catch_up(self, now: float) -> None:
        """Add the records that ``growth_per_minute`` says arrived since the start."""
        rate = self.profile.growth_per_minute
        if self.started is None:
            self.started = now
        if rate <= 0:
            return
        due = int((now - self.started) * rate / 60) - self.grown
        if due > 0:
            self.dataset.add(due, now_ms=int(now * 1000))
            self.grown += due


def _encode(reply: Reply, malformed: bool) -> bytes:
    if isinstance(reply.body, bytes):
        return reply.body
    data = orjson.dumps(reply.body)
    if malformed:
        return data[: max(1, len(data) // 2)] + b"\x00<!-- truncated"
    return data


class EndpointApp:
    """The ASGI app of one endpoint: the shared pipeline around the vendor handler."""

    def __init__(self, sim: Simulator, api: VendorAPI, endpoint: Endpoint) -> None:
        self.sim = sim
        self.api = api
        self.endpoint = endpoint
        self.full_name = f"{api.profile.name}.{endpoint.name}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        ctx = RequestContext(request, self.api, self.endpoint, body, self.sim.clock.time())
        self.sim.stats.request(self.full_name)
        has_cursor = False
        if self.endpoint.is_data:
            try:
                has_cursor = self.api.has_cursor(ctx)
            except VendorError:
                has_cursor = False
        info = RequestInfo(
            self.api.profile.name, self.endpoint.name, self.endpoint.is_data, has_cursor
        )
        ctx.faults = self.sim.faults.decide(info)
        if ctx.apply("reset"):
            self.sim.stats.fault(self.full_name, "reset")
            self.sim.stats.response(self.full_name, "reset", 0)
            if await reset_connection(scope):
                return
            raise ConnectionResetError("simulated connection reset")
        slow = ctx.apply("slow")
        if slow is not None:
            self.sim.stats.fault(self.full_name, "slow")
            await asyncio.sleep(slow.delay)
            ctx.now = self.sim.clock.time()
            if await request.is_disconnected():  # the client gave up: nothing was served
                self.sim.stats.response(self.full_name, "client_gone", 0)
                return
        with self.sim.lock:
            reply = self._respond(ctx)
            malformed = reply.status == 200 and ctx.apply("malformed") is not None
            content = _encode(reply, malformed)
            delivered = self.endpoint.is_data and reply.status == 200 and not malformed
            served = reply.served if delivered else []
            if delivered:
                self.sim.ledger.record(self.api.profile.name, served, self.endpoint.name)
        for kind in ctx.applied:
            if kind != "slow":
                self.sim.stats.fault(self.full_name, kind)
        self.sim.stats.response(self.full_name, reply.status, len(served))
        response = Response(content, status_code=reply.status, media_type="application/json")
        for name, value in reply.headers:
            response.headers.append(name, value)
        await response(scope, receive, send)

    def _respond(self, ctx: RequestContext) -> Reply:
        api = self.api
        api.catch_up(ctx.now)
        api.count_request(ctx.now)
        reply = self._gate(ctx)
        if reply is None:
            self._mutate(ctx)
            try:
                reply = self.endpoint.handler(ctx)
            except VendorError as exc:
                reply = exc.reply
        reply.headers += api.common_headers(ctx, reply)
        return reply

    def _gate(self, ctx: RequestContext) -> Reply | None:
        """Auth and the faults that answer instead of the handler."""
        api = self.api
        if self.endpoint.auth:
            denied = api.authenticate(ctx)
            if denied is not None:
                return denied
        if ctx.fault("token_expiry") and self.endpoint.auth:
            ctx.apply("token_expiry")
            api.revoke(ctx.token)
            return api.unauthorized_reply(expired=True)
        if api.over_budget():
            self.sim.stats.fault(self.full_name, "rate_limit_budget")
            return api.throttle_reply(ctx, None)
        spec = ctx.apply("rate_limit")
        if spec is not None:
            return api.throttle_reply(ctx, spec)
        spec = ctx.apply("server_error")
        if spec is not None:
            reply = api.server_error_reply(spec.status or 503)
            if spec.retry_after_format is not None:  # e.g. Graph's 503 + Retry-After
                reply.headers += api.retry_headers(ctx, spec)
            return reply
        spec = ctx.apply("expired_cursor")
        if spec is not None:
            return api.expired_cursor_reply(spec.status)
        return None

    def _mutate(self, ctx: RequestContext) -> None:
        """Late arrivals and updates happen before the handler reads the dataset."""
        api = self.api
        late = ctx.apply("late_arrival")
        if late is not None:
            api.dataset.add(late.count, now_ms=ctx.now_ms, age_ms=int(late.late_by * 1000))
        upd = ctx.apply("update")
        if upd is not None:
            served = sorted(self.sim.ledger.served_ids(api.profile.name))
            pool = served or sorted(api.dataset.ids())
            ids = api.rng.sample(pool, min(upd.count, len(pool)))
            api.dataset.update(ids, now_ms=ctx.now_ms)
