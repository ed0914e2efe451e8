"""OAuth2 tokens cached in a state store, so a restart or a second process reuses a valid token."""

from __future__ import annotations

import hashlib

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import CollectorError
from collectorkit.state._values import check_names
from collectorkit.typing import StateStore

__all__ = ["StateStoreTokenCache"]


class StateStoreTokenCache:
    """A :class:`~collectorkit.typing.TokenCache` over any state store.

    Expiry is wall-clock epoch seconds (``clock.time()``), because it must survive restarts; a
    token at or past ``expires_at - leeway`` is treated as absent. Tokens are stored as given:
    use a store you would trust with the credentials that obtain them.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        namespace: str = "oauth_tokens",
        leeway: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        check_names(namespace)
        self._store = store
        self._namespace = namespace
        self._leeway = leeway
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"StateStoreTokenCache({self._store!r}, namespace={self._namespace!r})"

    def _key(self, key: str) -> str:
        try:
            check_names(self._namespace, key)
        except CollectorError:
            return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return key

    async def get_token(self, key: str) -> tuple[str, float] | None:
        stored = await self._store.get(self._namespace, self._key(key))
        if stored is None:
            return None
        token, expires_at = stored.value.get("token"), stored.value.get("expires_at")
        if not isinstance(token, str) or not isinstance(expires_at, int | float):
            return None
        if self._clock.time() >= float(expires_at) - self._leeway:
            return None
        return token, float(expires_at)

    async def set_token(self, key: str, token: str, expires_at: float) -> None:
        value = {"token": token, "expires_at": float(expires_at)}
        await self._store.put(self._namespace, self._key(key), value)

    async def delete_token(self, key: str) -> bool:
        return await self._store.delete(self._namespace, self._key(key))
