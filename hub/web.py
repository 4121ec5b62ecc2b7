"""Operators' HTTP endpoints on the Faust web server."""

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from hub.registry import Registry
from hub.worker import HubWorker

# Prometheus text format 0.0.4 (UTF-8 by definition); aiohttp refuses a charset parameter here.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


def add_routes(app: faust.App, worker: HubWorker, registry: Registry) -> None:
    @app.page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: View, request: Request) -> Response:
        body = {
            "ready": worker.ready,
            "state_restored": worker.restored,
            "partitions_assigned": len(worker.assigned),
        }
        return web.json(body, status=200 if worker.ready else 503)

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        return web.bytes(
            generate_latest(worker.metrics.registry), content_type=METRICS_CONTENT_TYPE
        )

    @app.page("/api/v1/capability")
    async def capability(web: View, request: Request) -> Response:
        document = worker.latest_snapshot
        if document is None:
            return _no_snapshot(web)
        return web.json(document)

    @app.page("/api/v1/capability/{department}")
    async def department_capability(web: View, request: Request, department: str) -> Response:
        if department not in registry.codes:
            return web.json(
                {
                    "error": "unknown_department",
                    "message": f"no department '{department}' in the registry; "
                    f"known: {', '.join(sorted(registry.codes))}",
                },
                status=404,
            )
        document = worker.latest_snapshot
        if document is None:
            return _no_snapshot(web)
        body: dict[str, Any] = {
            "schema": document["schema"],
            "sequence": document["sequence"],
            "generated_at": document["generated_at"],
            "department": department,
            **document["departments"][department],
        }
        return web.json(body)


def _no_snapshot(web: View) -> Response:
    return web.json(
        {"error": "no_snapshot_yet", "message": "no capability snapshot published yet; retry soon"},
        status=503,
    )
