"""Operators' HTTP endpoints on the Faust web server.

The routes fall in three groups, each with a bearer token of its own in the settings:
api (/api/v1/...), metrics (/metrics) and health (/healthz, /readyz). A group whose
token is set answers only requests with `Authorization: Bearer <token>`; one without
a token is open.
"""

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from prometheus_client import generate_latest
from pydantic import SecretStr

from pelastus_hub.contract.registry import Registry
from pelastus_hub.picture.kpi import NoResult
from pelastus_hub.picture.kpi_windows import KINDS
from pelastus_hub.runtime.worker import HubWorker
from pelastus_hub.state.store import Outcome

# Prometheus text format 0.0.4 (UTF-8 by definition); aiohttp refuses a charset parameter here.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
JSON_CONTENT_TYPE = "application/json"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pelastus-hub"'}

Handler = Callable[..., Awaitable[Response]]
# app.page for one path: registers the handler as that route.
Page = Callable[[str], Callable[[Handler], Any]]


def route_group(path: str) -> str:
    """The group of a route, and so the setting holding its token: `<group>_token`."""
    if path.startswith("/api/v1/"):
        return "api"
    if path == "/metrics":
        return "metrics"
    if path in ("/healthz", "/readyz"):
        return "health"
    raise ValueError(f"{path} is in no route group")


def authorized(header: str | None, token: SecretStr | None) -> bool:
    """Whether a request with this Authorization header value may use a group that
    requires `token`. Every request may when the group has no token."""
    if token is None:
        return True
    if header is None:
        return False
    scheme, _, supplied = header.strip().partition(" ")
    if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 9110)
        return False
    given, expected = _utf8(supplied.strip()), _utf8(token.get_secret_value())
    # An empty token matches nothing. Otherwise constant time in the token's contents
    # (only its length can be told).
    return bool(given and expected) and hmac.compare_digest(given, expected)


def _utf8(text: str) -> bytes:
    # Header and environment text that is no UTF-8 holds surrogates for its bytes: they
    # encode too, rather than failing the request.
    return text.encode("utf-8", "surrogatepass")


def _pages(app: faust.App, worker: HubWorker) -> Page:
    """app.page for the hub's routes: each route asks for the token of its group before
    its handler runs."""

    def page(path: str) -> Callable[[Handler], Any]:
        group = route_group(path)
        token: SecretStr | None = getattr(worker.settings, f"{group}_token")

        def register(handler: Handler) -> Any:
            if token is None:
                return app.page(path)(handler)

            @functools.wraps(handler)
            async def guarded(web: View, request: Request, **match: Any) -> Response:
                if not authorized(request.headers.get("Authorization"), token):
                    return _unauthorized(web, group)
                return await handler(web, request, **match)

            return app.page(path)(guarded)

        return register

    return page


def add_routes(app: faust.App, worker: HubWorker, registry: Registry) -> None:
    page = _pages(app, worker)
    # The registry's names in Finnish and Swedish, as the contract gives them.
    department_names = orjson.dumps(
        {
            "departments": [
                {
                    "code": d.code,
                    "name_fi": d.name_fi,
                    "name_sv": d.name_sv,
                    "cooperation_area": d.cooperation_area,
                }
                for d in registry.departments
            ]
        }
    )

    @page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        # Down only when the worker cannot recover: the process is about to exit, and
        # an orchestrator should restart it. A broker outage is no reason to restart.
        if worker.crashed:
            return web.json(
                {"status": "crashed", "reason": repr(worker.crash_reason)[:300]}, status=500
            )
        return web.json({"status": "ok"})

    @page("/readyz")
    async def readyz(web: View, request: Request) -> Response:
        body = {
            "ready": worker.ready,
            "state_restored": worker.restored,
            "partitions_assigned": len(worker.assigned),
            "broker_reachable": worker.broker.reachable,
        }
        if worker.broker.problem:
            body["broker_problem"] = worker.broker.problem
        return web.json(body, status=200 if worker.ready else 503)

    @page("/api/v1/accounting")
    async def accounting(web: View, request: Request) -> Response:
        partitions = []
        for tp, counts in sorted(worker.accounting.items()):
            partitions.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "consumed": counts["consumed"],
                    **{outcome.value: counts[outcome.value] for outcome in Outcome},
                    "next_offset": counts["next_offset"],
                }
            )
        return web.json({"since": worker.started_at, "partitions": partitions})

    @page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        # A few milliseconds of collecting (the process's own figures among them): in a
        # thread, so that the batch loop takes turns with it rather than waiting it out.
        text = await asyncio.to_thread(generate_latest, worker.metrics.registry)
        return web.bytes(text, content_type=METRICS_CONTENT_TYPE)

    @page("/api/v1/capability")
    async def capability(web: View, request: Request) -> Response:
        latest = worker.snapshots.latest
        if latest is None:
            return _no_snapshot(web)
        # A snapshot is known by its sequence: a client polling with If-None-Match gets a
        # bodiless 304 until the next one (the national picture page polls every second).
        etag = f'"{latest.sequence}"'
        if request.headers.get("If-None-Match") == etag:
            return web.bytes(b"", status=304, headers={"ETag": etag})
        return web.bytes(latest.body, content_type=JSON_CONTENT_TYPE, headers={"ETag": etag})

    @page("/api/v1/departments")
    async def departments(web: View, request: Request) -> Response:
        return web.bytes(department_names, content_type=JSON_CONTENT_TYPE)

    @page("/api/v1/capability/{department}")
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
        latest = worker.snapshots.latest
        if latest is None:
            return _no_snapshot(web)
        # One department of the snapshot as published: the leader's, or this worker's own.
        document = orjson.loads(latest.body)
        body: dict[str, Any] = {
            "schema": document["schema"],
            "sequence": document["sequence"],
            "generated_at": document["generated_at"],
            "department": department,
            **document["departments"][department],
        }
        return web.json(body)

    _add_kpi_route(page, worker, registry)


def _add_kpi_route(page: Page, worker: HubWorker, registry: Registry) -> None:
    @page("/api/v1/kpi")
    async def kpi(web: View, request: Request) -> Response:
        query = request.query
        department = query.get("department")
        kind = query.get("window", "hour")
        codes = ", ".join(sorted(registry.codes))
        if not department:
            return _error(web, "missing_parameter", f"give department=<code>, one of {codes}", 400)
        if department not in registry.codes:
            return _error(
                web, "unknown_department", f"department={department!r}: give one of {codes}", 404
            )
        if kind not in KINDS:
            return _error(web, "bad_window", f"window={kind!r}: give hour or day", 400)
        start = None
        if "start" in query:
            try:
                start = datetime.fromisoformat(query["start"])
            except ValueError:
                start = None
            if start is None or start.tzinfo is None:
                return _error(
                    web,
                    "bad_start",
                    f"start={query['start']!r}: give an ISO 8601 time with a UTC offset",
                    400,
                )
        try:
            result = worker.snapshots.kpi(department, kind, start)
        except ValueError as error:  # a start at the very ends of the calendar
            return _error(web, "bad_start", str(error), 400)
        if result is None:
            return _error(web, "no_kpi_yet", f"no incident of {department} in any {kind} yet", 404)
        if isinstance(result, NoResult):  # its time is over, and it has no final result
            return _error(web, "no_kpi_for_window", result.message, 404)
        return web.bytes(orjson.dumps(result), content_type=JSON_CONTENT_TYPE)


def _error(web: View, error: str, message: str, status: int) -> Response:
    return web.json({"error": error, "message": message}, status=status)


def _unauthorized(web: View, group: str) -> Response:
    # Never the token, nor what the request sent in its place.
    return web.json(
        {
            "error": "unauthorized",
            "message": f"this route needs the header 'Authorization: Bearer <token>' with "
            f"the hub's {group} token (PELASTUS_HUB_{group.upper()}_TOKEN)",
        },
        status=401,
        headers=dict(CHALLENGE),
    )


def _no_snapshot(web: View) -> Response:
    return web.json(
        {"error": "no_snapshot_yet", "message": "no capability snapshot published yet; retry soon"},
        status=503,
    )
