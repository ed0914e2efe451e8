"""The loopback rule of our servers: anything bound beyond loopback needs a bearer token.

One rule for the status server, the storage service and the configuration file, so a host the
loader accepts is a host the server starts on, and the other way round.
"""

from __future__ import annotations

import ipaddress

from collectorkit._errors import ConfigError

__all__ = ["STATUS_TOKEN_HINT", "check_bind", "is_loopback"]

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
