"""Auth kinds by the names a configuration uses: one vocabulary for every spelling.

``{type: api_key, key: …, header_name: X-Key}`` in a YAML file, ``AuthConfig(type=…)`` of the
integrations seed and the ``create_*_auth`` factories all end here: the name picks a handler and
the options are that handler's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collectorkit._registry import Registry
from collectorkit.http._auth import (
    APIKeyAuthHandler,
    AuthHandler,
    BasicAuthHandler,
    BearerTokenAuthHandler,
    CustomAuthHandler,
    NoAuth,
)
from collectorkit.http._oauth2 import OAuth2ClientCredentialsHandler

__all__ = ["AUTH_KINDS", "build_auth_handler"]

AUTH_KINDS: Registry[Callable[..., AuthHandler]] = Registry(
    "auth kind",
    {
        "none": NoAuth,
        "bearer": BearerTokenAuthHandler,
        "api_key": APIKeyAuthHandler,
        "basic": BasicAuthHandler,
        "oauth2": OAuth2ClientCredentialsHandler,
        "custom": CustomAuthHandler,
    },
    path="auth.type",
)
"""Auth kind name → handler class; its constructor's parameters are the kind's options.
Plug-ins add kinds with ``AUTH_KINDS.register(name, handler_factory)``."""


def build_auth_handler(kind: str, /, **options: Any) -> AuthHandler:
    """The handler of auth ``kind`` built from its options; an unknown kind lists the known."""
    return AUTH_KINDS.lookup(str(kind))(**options)
