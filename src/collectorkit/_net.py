"""The loopback rule of our servers: anything bound beyond loopback needs a bearer token.

One rule for the status server, the storage service and the configuration file, so a host the
loader accepts is a host the server starts on, and the other way round.
"""

from __future__ import annotations

import ipaddress

from collectorkit._errors import ConfigError

__all__ = ["MIN_TOKEN_LENGTH", "STATUS_TOKEN_HINT", "check_bind", "check_token", "is_loopback"]

MIN_TOKEN_LENGTH = 16
"""The shortest bearer token a server of ours accepts (a blank or short one is guessed, or, like
``" "``, locks every client out)."""

STATUS_TOKEN_HINT = "set status.token (e.g. token: ${STATUS_TOKEN}), or bind to 127.0.0.1"  # noqa: S105 - advice, not a token
"""How to give the status server its token, in the configuration file's terms."""

_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, an IPv4/IPv6 address, ``[::1]``) only reaches this machine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: object, *, hint: str, path: str | None = None) -> None:
    """Raise :class:`~collectorkit.ConfigError` when ``host`` is not loopback and there is no
    ``token``; ``hint`` says how to give one, ``path`` is the setting it names."""
    if not token and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host!r} without a bearer token (it is not loopback): {hint}",
            path=path,
        )


def check_token(token: str | None, *, path: str = "token") -> str | None:
    """``token`` when it is ``None`` (no authentication) or a usable bearer token: at least
    :data:`MIN_TOKEN_LENGTH` characters, no surrounding or inner whitespace. The message never
    shows the token."""
    if token is None:
        return None
    if len(token.strip()) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(
            f"a bearer token must be at least {MIN_TOKEN_LENGTH} characters without spaces"
            f" (got {len(token)} characters{', blank' if not token.strip() else ''});"
            " generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            path=path,
        )
    return token
