"""`pelastus-hub provision`: the broker's topics, SCRAM users and ACLs, from the registry.

Idempotent: it creates what is missing and says what was already there; a second run
changes nothing. Passwords are files in a folder of secrets (one per user), made when a
user is first created; the operator hands each department its own, with the broker's CA.
"""

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.topic_admin import hub_topics
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.provision.broker_admin import BrokerAdmin, BrokerAdminError
from pelastus_hub.tools.provision.passwords import Passwords
from pelastus_hub.tools.provision.plan import Step, Topic, plan, table, wanted

__all__ = ["BrokerAdminError", "provision", "run_provision"]


def wanted_topics(
    departments: list[str], partitions: int, replicas: int, max_record_bytes: int
) -> list[Topic]:
    """The hub's topics for these departments: their inputs with `partitions` each, and
    the hub's own; `replicas` each, records up to `max_record_bytes`."""
    return [
        Topic(
            t.name,
            t.num_partitions,
            t.replication_factor,
            tuple(sorted((t.topic_configs or {}).items())),
        )
        for t in hub_topics(departments, sorted(FAMILIES), partitions, replicas, max_record_bytes)
    ]


def provision(
    settings: HubSettings,
    departments: Iterable[str],
    secrets_dir: Path,
    dry_run: bool = False,
    progress: Callable[[str], None] = print,
) -> list[Step]:
    """Bring the broker to the plan for these departments (the registry's); only print the
    plan with dry_run. Returns its steps."""
    departments = sorted(departments)
    try:
        goal = wanted(
            departments,
            wanted_topics(
                departments,
                settings.input_partitions,
                settings.replication_factor,
                settings.max_record_bytes,
            ),
            settings.group_id,
            settings.sasl_username,
        )
    except ValueError as error:
        raise BrokerAdminError(f"the registry cannot be provisioned: {error}") from None
    admin = BrokerAdmin(settings)
    current, foreign = admin.current()
    passwords = Passwords(secrets_dir, progress)
    steps_plan = plan(
        goal, current, settings.sasl_username, lambda user: passwords.path(user).is_file()
    )
    steps_plan.steps += [
        Step("report", "acl", binding.principal, f"{binding}: not planned, left as is")
        for binding in foreign
    ]
    progress(table(steps_plan.steps))
    if dry_run:
        return steps_plan.steps
    if steps_plan.changes:
        admin.apply(steps_plan, passwords.password, progress)
        admin.wait_applied(steps_plan)
    else:
        progress("provision: nothing to change")
    return steps_plan.steps


def run_provision(dry_run: bool, secrets_dir: Path) -> int:
    began = time.monotonic()
    settings = HubSettings()  # unreadable settings: the command line explains them
    try:
        registry = Registry.load(settings.schemas_dir)
        steps = provision(settings, registry.codes, secrets_dir, dry_run)
    # ValueError: settings that cannot connect (HubSettings.login).
    except (BrokerAdminError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = {a: sum(s.action == a for s in steps) for a in ("create", "keep", "report")}
    created = "to create (dry run)" if dry_run else "created"
    print(
        f"provision: {counts['create']} {created}, {counts['keep']} already in place, "
        f"{counts['report']} reported, in {time.monotonic() - began:.1f} s"
    )
    return 0
