"""Topic names of the v1 contract."""

DEAD_LETTER = "hub.dead-letter"
CAPABILITY = "national.capability"
# Final KPI results, key "<department>/<hour|day>/<window start>": compacted, one per window.
KPI = "national.kpi"
# Any record here asks for a capability snapshot now, besides the fixed cadence.
SNAPSHOT_REQUESTS = "hub.snapshot-requests"


def input_topic(department: str, family: str) -> str:
    return f"dept.{department}.{family}"


def feedback_topic(department: str) -> str:
    return f"feedback.{department}"


def state_topic(family: str) -> str:
    """Compacted: the latest state of each unit, incident or station, so that a restarted
    worker need not replay inputs."""
    return f"hub.state.{family}"
