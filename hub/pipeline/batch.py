"""One batch of consumed records through validation and state: pure, no I/O.

Every record ends in exactly one outcome; the caller turns the result into
dead letters, feedback, changelog records and metrics.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import InputRecord, Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families.base import Family
from pelastus_hub.state.store import Outcome, Store


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: InputRecord
    department: str
    family: str
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class Warned:
    """An accepted record the department is told about (pelastus_hub.contract.reasons.WarningCode)."""

    record: InputRecord
    department: str
    family: str
    code: WarningCode
    event: ValidEvent


@dataclass
class BatchResult:
    # (department, family, outcome) -> records
    outcomes: Counter[tuple[str, str, Outcome]] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    warnings: list[Warned] = field(default_factory=list)
    # Newest event time among each department's accepted events.
    newest: dict[str, datetime] = field(default_factory=dict)
    # (topic, partition, outcome) -> records: the accounting per input partition.
    partition_outcomes: Counter[tuple[str, int, Outcome]] = field(default_factory=Counter)

    @property
    def consumed(self) -> int:
        return sum(self.outcomes.values())

    @property
    def by_partition(self) -> dict[tuple[str, int], Counter[str]]:
        counts: dict[tuple[str, int], Counter[str]] = {}
        for (topic, partition, outcome), n in self.partition_outcomes.items():
            counts.setdefault((topic, partition), Counter())[outcome.value] += n
        return counts


def input_routes(registry: Registry, families: Iterable[Family]) -> dict[str, tuple[str, Family]]:
    """Input topic -> (department, family), for every department and family."""
    return {
        topic: (code, family)
        for family in families
        for topic, code in registry.input_topics(family.name).items()
    }


def process_batch(
    records: Iterable[InputRecord],
    routes: dict[str, tuple[str, Family]],
    validator: Validator,
    stores: dict[str, Store],
    now: datetime,
    into: BatchResult | None = None,
) -> BatchResult:
    """`stores`: each family's, by family name. `into`: the result of the batch so far, which
    these records, the next part of it, are added to."""
    result = BatchResult() if into is None else into
    newest, by_partition = result.newest, Counter[tuple[str, int, Outcome]]()
    for record in records:
        department, family = routes[record.topic]
        checked = validator.validate(record, department, family, now)
        if isinstance(checked, Rejection):
            outcome = Outcome.DEAD_LETTERED
            result.dead_letters.append(DeadLetter(record, department, family.name, checked))
        else:
            store = stores[family.name]
            warning = store.warning(department, checked)
            outcome = store.apply(department, checked)
            if outcome is Outcome.ACCEPTED:
                if warning is not None:
                    result.warnings.append(
                        Warned(record, department, family.name, warning, checked)
                    )
                seen = newest.get(department)
                if seen is None or checked.event_time > seen:
                    newest[department] = checked.event_time
        by_partition[record.topic, record.partition, outcome] += 1
    # Counted once per record, by partition: each topic is one department's and family's.
    for (topic, partition, outcome), count in by_partition.items():
        department, family = routes[topic]
        result.outcomes[department, family.name, outcome] += count
        result.partition_outcomes[topic, partition, outcome] += count
    return result
