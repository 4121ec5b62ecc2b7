"""Schema evolution rules, like a schema registry's BACKWARD_TRANSITIVE mode.

`schemas/<family>/v<major>.<revision>.json` are immutable revisions numbered from 0. Each must
accept every message any earlier revision of its major version accepted, so producers still on
an old revision stay valid. The comparison is structural and conservative: a change is breaking
unless shown to be at least as permissive everywhere; the unknown is reported, never passed.
"""

from pelastus_hub.tools.schema_compat.comparison import compare
from pelastus_hub.tools.schema_compat.revisions import (
    REVISION_FILE,
    Breaking,
    check_schemas,
    run_check,
)
from pelastus_hub.tools.schema_compat.rules import Issue

__all__ = ["REVISION_FILE", "Breaking", "Issue", "check_schemas", "compare", "run_check"]
