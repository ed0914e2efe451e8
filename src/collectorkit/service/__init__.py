"""collectorkit.service: the storage service (REST, FastAPI) that keeps state for a fleet.

``serve(host, port, store_url, token)`` is what ``collectorkit serve-storage`` runs;
``create_app(store, token)`` is the ASGI app; ``run_storage_service`` serves in the background.
"""

from collectorkit.service._app import create_app
from collectorkit.service._server import (
    DEFAULT_STORE_URL,
    check_bind,
    run_storage_service,
    serve,
    serve_async,
)

__all__ = [
    "DEFAULT_STORE_URL",
    "check_bind",
    "create_app",
    "run_storage_service",
    "serve",
    "serve_async",
]
