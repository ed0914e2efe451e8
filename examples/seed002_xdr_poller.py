"""Seed 002's ``xdr_poller.py``, runnable: the XDR alert poller as one collectorkit command.

Configuration comes from the seed's environment variables, and the flags override them::

    XDR_BASE_URL="https://api-tenant.xdr.example.com"   XDR_AUTH_TOKEN="your-api-key"
    XDR_AUTH_ID=1        XDR_POLL_INTERVAL=30     XDR_POLL_ENABLED=true
    XDR_MAX_ALERTS_PER_POLL=100                   XDR_ALERTS_DIR=alerts

    python examples/seed002_xdr_poller.py                      # settings from the environment
    python examples/seed002_xdr_poller.py --interval 60        # custom polling interval
    python examples/seed002_xdr_poller.py --debug              # request/response details
    python examples/seed002_xdr_poller.py --base-url "https://custom.xdr.api" --auth-token "token"

What it does, as the seed describes: polls on the interval; skips alert ids it already processed
(a bounded set kept in the state store, so a restart does not repeat them); calls
:func:`handle_new_alerts` with the new ones; writes each to ``alerts/alert_{id}_{timestamp}.json``;
stops gracefully on SIGINT/SIGTERM (the page in flight is finished or abandoned without its
checkpoint, state is saved). With ``XDR_AUTH_TOKEN=dev-dummy-token`` it runs in development mode:
the loop runs, the API is not called, and the log says so. ``/status``, ``/metrics`` and a
dashboard are served on http://127.0.0.1:8080 (``--status-port`` to change).

The same command without this file: ``collectorkit run --callback python:mymodule:handle``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from collectorkit.cli import main


def handle_new_alerts(alerts: Sequence[Mapping[str, Any]], source: str) -> None:
    """Seed 002's callback: runs after the alerts were stored, once per alert id."""
    for alert in alerts:
        print(
            f"[{source}] new alert {alert.get('alert_id')}: {alert.get('name')} "
            f"severity={alert.get('severity')} host={alert.get('host_name')}",
            flush=True,
        )


if __name__ == "__main__":
    main(["run", "--callback", "python:seed002_xdr_poller:handle_new_alerts", *sys.argv[1:]])
