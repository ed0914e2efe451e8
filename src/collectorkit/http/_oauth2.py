"""OAuth2 client credentials: tokens fetched through the client's own transport, cached with a
wall-clock expiry, refreshed before they expire, refreshed once on 401, one refresh shared by
every concurrent request."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlencode

import orjson

from collectorkit._clock import SystemClock
from collectorkit._errors import AuthenticationError, ConfigError, ServiceError
from collectorkit.http._auth import AuthContext, AuthHandler, _require_text
from collectorkit.http._models import Request, Response
from collectorkit.http._redact import MASK, redact_text, redact_url, register_secret
from collectorkit.typing import TokenCache

__all__ = ["MemoryTokenCache", "OAuth2ClientCredentialsHandler"]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
AUTH_METHODS: tuple[str, ...] = ("client_secret_basic", "client_secret_post", "private_key_jwt")
DEFAULT_EXPIRES_IN = 3600.0
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300


class MemoryTokenCache:
    """A :class:`~collectorkit.typing.TokenCache` in process memory."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    async def get_token(self, key: str) -> tuple[str, float] | None:
        return self._tokens.get(key)

    async def set_token(self, key: str, token: str, expires_at: float) -> None:
        self._tokens[key] = (token, expires_at)


class OAuth2ClientCredentialsHandler(AuthHandler):
    """The client-credentials grant (RFC 6749 §4.4).

    The client authenticates (``auth_method``) with its secret as HTTP Basic
    (``"client_secret_basic"``, the default with a ``client_secret``), with the secret in the form
    (``"client_secret_post"``: Microsoft Graph, CrowdStrike), or with a JWT signed by its
    ``private_key`` (``"private_key_jwt"``, RFC 7523, RS256 — the default with a ``private_key``;
    Okta service apps need it). The assertion names the client as ``iss`` and ``sub``, the token
    URL as ``aud``, lives five minutes and carries ``private_key_id`` as ``kid`` when given.
    A token endpoint answering ``invalid_client`` gets an error naming the method used and the
    other ones to try. Tokens are reused until ``refresh_skew`` seconds before
    their wall-clock expiry (``expires_in``, default one hour when the server omits it) and kept
    in ``token_cache`` (any :class:`~collectorkit.typing.TokenCache`, e.g. one backed by a state
    store, so a token survives restarts). A 401 refreshes once and retries; concurrent requests
    that fail with the same stale token share that one refresh; a cache with a
    ``refresh_lock(key)`` async context manager (the fleet's, in PostgreSQL) extends that to
    every process sharing it. One handler may serve several clients: tokens are fetched through
    one whose connections are open.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        private_key: str | None = None,
        private_key_id: str | None = None,
        scope: str | Sequence[str] | None = None,
        audience: str | None = None,
        auth_method: AuthMethod | None = None,
        token_cache: TokenCache | None = None,
        refresh_skew: float = 30.0,
        extra_params: Mapping[str, str] | None = None,
    ) -> None:
        self.token_url = _require_text(token_url, "OAuth2ClientCredentialsHandler.token_url")
        if "://" not in token_url:
            raise ConfigError(
                f"must be an absolute URL, got {redact_url(token_url)!r}",
                path="OAuth2ClientCredentialsHandler.token_url",
            )
        self.client_id = _require_text(client_id, "OAuth2ClientCredentialsHandler.client_id")
        if auth_method is None:
            auth_method = "private_key_jwt" if private_key is not None else "client_secret_basic"
        if auth_method not in AUTH_METHODS:
            raise ConfigError(
                f"must be one of {', '.join(AUTH_METHODS)}, got {auth_method!r}",
                path="OAuth2ClientCredentialsHandler.auth_method",
            )
        self._secret = self._private_key = ""
        if auth_method == "private_key_jwt":
            self._private_key = _require_text(
                private_key, "OAuth2ClientCredentialsHandler.private_key"
            )
            _check_private_key(self._private_key)
            register_secret(self._private_key)
        else:
            self._secret = _require_text(
                client_secret, "OAuth2ClientCredentialsHandler.client_secret"
            )
            register_secret(self._secret)
        self.private_key_id = private_key_id
        self.scope = scope if scope is None or isinstance(scope, str) else " ".join(scope)
        self.audience = audience
        self.auth_method = auth_method
        self.token_cache = token_cache if token_cache is not None else MemoryTokenCache()
        self.refresh_skew = float(refresh_skew)
        self.extra_params = dict(extra_params or {})
        self.cache_key = (
            f"oauth2:{self.token_url}:{self.client_id}:{self.scope or ''}:{audience or ''}"
        )
        self.fetches = 0
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._contexts: list[AuthContext] = []

    def attach(self, context: AuthContext) -> None:
        if context not in self._contexts:
            self._contexts.append(context)

    def detach(self, context: AuthContext) -> None:
        if context in self._contexts:
            self._contexts.remove(context)

    @property
    def _context(self) -> AuthContext | None:
        """The client whose connections token requests use: the latest attached that is still
        open (a handler shared by clients never reopens a closed client's connections)."""
        return self._contexts[-1] if self._contexts else None

    def _now(self) -> float:
        return (self._context.clock if self._context else SystemClock()).time()

    def _fresh(self, token: str | None, expires_at: float) -> bool:
        return token is not None and self._now() < expires_at - self.refresh_skew

    async def token(self, *, stale: str | None = None) -> str:
        """A valid access token. ``stale`` is a token the server just refused: if the current
        one is different, another request already refreshed and it is returned as is."""
        token = self._token
        if token is not None and token != stale and self._fresh(token, self._expires_at):
            return token
        async with self._lock:
            if (
                self._token is not None
                and self._token != stale
                and self._fresh(self._token, self._expires_at)
            ):
                return self._token
            if stale is None and (cached := await self._cached(stale)) is not None:
                return cached
            refreshing = getattr(self.token_cache, "refresh_lock", None)
            if refreshing is None:
                return await self._fetch()
            # a cache shared by processes (the fleet's): one refresh at a time across them all;
            # whoever waited takes the token the first one stored
            async with refreshing(self.cache_key):
                if (cached := await self._cached(stale)) is not None:
                    return cached
                return await self._fetch()

    async def _cached(self, stale: str | None) -> str | None:
        """A fresh token from the cache that is not ``stale``, adopted; else ``None``."""
        cached = await self.token_cache.get_token(self.cache_key)
        if cached is None or cached[0] == stale or not self._fresh(*cached):
            return None
        self._token, self._expires_at = cached
        register_secret(cached[0])
        return cached[0]

    async def _fetch(self) -> str:
        if self._context is None:
            raise ConfigError(
                "OAuth2ClientCredentialsHandler is not attached to a client", path="auth"
            )
        self.fetches += 1
        response = await self._context.send(self._token_request())
        token, expires_in = self._parse(response)
        register_secret(token)
        self._token, self._expires_at = token, self._now() + expires_in
        await self.token_cache.set_token(self.cache_key, token, self._expires_at)
        return token

    def _token_request(self) -> Request:
        form: dict[str, str] = {"grant_type": "client_credentials", **self.extra_params}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self.auth_method == "private_key_jwt":
            form |= {
                "client_id": self.client_id,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": self._assertion(),
            }
        elif self.auth_method == "client_secret_post":
            form |= {"client_id": self.client_id, "client_secret": self._secret}
        else:
            raw = f"{quote(self.client_id, safe='')}:{quote(self._secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode("ascii")
        return Request("POST", self.token_url, headers=headers, content=urlencode(form).encode())

    def _parse(self, response: Response) -> tuple[str, float]:
        where = redact_url(self.token_url)
        if response.status_code >= 500:
            raise ServiceError(
                f"token endpoint {where} failed with {response.status_code}", response=response
            )
        data = _json_object(response)
        if response.status_code >= 400 or not isinstance(data.get("access_token"), str):
            reason = redact_text(
                str(data.get("error_description") or data.get("error") or "no access_token")
            )
            raise AuthenticationError(
                f"token endpoint {where} refused client {self.client_id!r} "
                f"(status {response.status_code}): {reason}{self._method_hint(data)}",
                response=response,
            )
        expires_in = data.get("expires_in", DEFAULT_EXPIRES_IN)
        try:
            lifetime = max(0.0, float(expires_in))
        except (TypeError, ValueError):
            lifetime = DEFAULT_EXPIRES_IN
        return data["access_token"], lifetime

    def _method_hint(self, data: Mapping[str, Any]) -> str:
        if data.get("error") != "invalid_client":
            return ""
        others = " or ".join(repr(m) for m in AUTH_METHODS if m != self.auth_method)
        return (
            f" — client authentication {self.auth_method!r} was refused; the endpoint may "
            f"require {others} (auth_method)"
        )

    def _assertion(self) -> str:
        """A fresh RS256 client assertion (RFC 7523 §2.2)."""
        jwt = _jwt_module()
        now = int(self._now())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": secrets.token_hex(16),
        }
        headers = {"kid": self.private_key_id} if self.private_key_id else None
        token: str = jwt.encode(claims, self._private_key, algorithm="RS256", headers=headers)
        register_secret(token)  # a bearer credential for its lifetime: never logged
        return token

    async def on_request(self, request: Request) -> None:
        request.headers["Authorization"] = f"Bearer {await self.token()}"

    async def on_auth_failure(self, response: Response) -> bool:
        """Refresh the token the server refused — unless a concurrent request already did."""
        sent = response._request.headers.get("authorization") if response._request else None
        stale = sent.removeprefix("Bearer ") if sent else self._token
        await self.token(stale=stale)
        return True

    async def get_initial_token(self) -> str:
        """Fetch (or load from the cache) a token now, e.g. to check credentials at startup."""
        return await self.token()

    async def refresh(self) -> str:
        """Replace the current token with a new one from the token endpoint."""
        return await self.token(stale=self._token)

    async def invalidate(self) -> None:
        """Forget the current token; the next request fetches a new one."""
        async with self._lock:
            self._token, self._expires_at = None, 0.0

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentialsHandler(token_url={redact_url(self.token_url)!r}, "
            f"client_id={self.client_id!r}, client_secret={MASK!r}, scope={self.scope!r}, "
            f"audience={self.audience!r}, auth_method={self.auth_method!r})"
        )


def _jwt_module() -> Any:
    try:
        import jwt
    except ImportError:
        raise ConfigError(
            "private_key_jwt needs PyJWT and cryptography: pip install 'collectorkit[jwt]'",
            path="OAuth2ClientCredentialsHandler.auth_method",
        ) from None
    return jwt


def _check_private_key(pem: str) -> None:
    """A private key that cannot sign is a configuration error now, not at the first token."""
    jwt = _jwt_module()
    try:
        jwt.encode({"check": 1}, pem, algorithm="RS256")
    except (ValueError, TypeError, jwt.exceptions.PyJWTError):
        raise ConfigError(
            "is not an RSA private key in PEM form (-----BEGIN PRIVATE KEY-----)",
            path="OAuth2ClientCredentialsHandler.private_key",
        ) from None


def _json_object(response: Response) -> dict[str, Any]:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
