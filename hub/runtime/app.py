"""The one faust.App: worker lifecycle, web server, on-demand snapshots.

Faust is the runtime here, not the hot path: the hub worker runs its
own batch consumer and snapshot timer as a service of the app (hub/runtime/worker.py).
The timer is the worker's, not an @app.timer, because Faust starts its timers
only once its own consumer group has settled, which after a crashed worker
takes a session timeout.
"""

import tempfile
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from pelastus_hub.contract import topics
from pelastus_hub.contract.registry import Registry
from pelastus_hub.runtime.group_offsets import RUNTIME_GROUP_SUFFIX
from pelastus_hub.runtime.logs import quiet_settling
from pelastus_hub.runtime.page import add_page
from pelastus_hub.runtime.web import add_routes
from pelastus_hub.runtime.worker import HubWorker
from pelastus_hub.settings import HubSettings

# Faust makes a data folder per app even with no tables to keep (the hub has none): in the
# temporary folder rather than wherever the worker was started; Faust makes no parents.
FAUST_DATADIR = str(Path(tempfile.gettempdir()) / "pelastus-hub-faust-{conf.name}")


def broker_credentials(settings: HubSettings) -> faust.types.auth.CredentialsT | None:
    """The settings' login and TLS in Faust's terms."""
    if login := settings.login():
        username, password = login
        return faust.SASLCredentials(
            username=username,
            password=password,
            mechanism=settings.sasl_mechanism,
            ssl_context=settings.ssl_context(),
        )
    return faust.SSLCredentials(settings.ssl_context()) if settings.tls else None


def create_app(settings: HubSettings) -> tuple[faust.App, HubWorker]:
    registry = Registry.load(settings.schemas_dir)
    quiet_settling()
    app = faust.App(
        # Faust's own consumer group must differ from the worker's batch consumer group.
        settings.group_id + RUNTIME_GROUP_SUFFIX,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings),
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # Faust's own views would show partition assignments and tables without a token.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        store="memory://",
        datadir=FAUST_DATADIR,
        # How soon the lead moves on when its worker dies without leaving the group.
        broker_session_timeout=10.0,
        topic_disable_leader=True,
        autodiscover=False,
    )
    worker = HubWorker(settings, registry, loop=app.loop)
    app.add_dependency(worker)

    # The one partition of hub.snapshot-requests is the lead (hub/leadership.py): its
    # owner in this app's group publishes the snapshots, on the cadence and on request.
    @app.agent(app.topic(topics.SNAPSHOT_REQUESTS, value_serializer="raw"))
    async def on_demand_snapshot(requests: faust.StreamT) -> None:
        async for _ in requests:
            if worker.ready:
                await worker.snapshots.publish()

    @app.on_partitions_assigned.connect
    async def take_lead(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        worker.snapshots.leadership.assigned = any(
            tp.topic == topics.SNAPSHOT_REQUESTS for tp in assigned
        )

    @app.on_partitions_revoked.connect
    async def give_lead(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        if any(tp.topic == topics.SNAPSHOT_REQUESTS for tp in revoked):
            worker.snapshots.leadership.assigned = False

    add_routes(app, worker, registry)
    add_page(app)
    return app, worker
