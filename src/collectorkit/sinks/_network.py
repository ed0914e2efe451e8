"""What the sinks that hold their own network connections (syslog, Kafka) share: one check of
a named choice, and the client TLS context built from a config's file options."""

from __future__ import annotations

import ssl

from collectorkit._errors import ConfigError

__all__ = ["check_choice", "client_tls_context"]


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` when it is one of ``allowed``; else a :class:`ConfigError` naming ``field``."""
    if value not in allowed:
        raise ConfigError(f"expected one of {', '.join(allowed)}; got {value!r}", path=field)
    return value


def client_tls_context(
    *,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    verify: bool = True,
    field: str,
) -> ssl.SSLContext:
    """A client context: the system's roots or ``ca_file``, a client certificate when
    ``cert_file`` (and ``key_file``) are given; ``verify=False`` accepts any server (tests and
    private networks only). A file that cannot be loaded is a :class:`ConfigError` at
    ``field``."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS files: {exc}", path=field) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
