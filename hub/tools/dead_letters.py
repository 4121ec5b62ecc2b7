"""`pelastus-hub dead-letters list|show|export|replay`: the dead letters an operator acts on.

Each dead letter is named by where it lies on hub.dead-letter, `<partition>:<offset>`.
It carries what the department's feedback says (reason, message, pointer), where its
original lies, and the original's key, value and headers, as far as they fitted.
`replay` sends selected ones to their original topic again, after a fix on the hub's
side (a registry entry, a setting), for the hub to judge anew; the header
hub.replayed-from says which dead letter each came from.
"""

import asyncio
import base64
import contextlib
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from pelastus_hub.clients import KafkaClients, start_or_explain
from pelastus_hub.contract.topics import DEAD_LETTER
from pelastus_hub.runtime.topic_admin import partition_count

HUB = "hub.error."
REPLAYED_FROM = "hub.replayed-from"


@dataclass(frozen=True)
class Selection:
    """Which dead letters: all that match every criterion given."""

    department: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __call__(self, letter: "Letter") -> bool:
        return (
            (self.department is None or letter.department == self.department)
            and (self.reason is None or letter.reason == self.reason)
            and (self.until is None or letter.time <= self.until)
        )


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    time: datetime  # when the hub wrote it
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the original's
    hub: dict[str, str] = field(default_factory=dict)  # hub.error.* without the prefix

    @property
    def name(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def department(self) -> str:
        return self.hub.get("department", "")

    @property
    def reason(self) -> str:
        return self.hub.get("reason", "")

    @property
    def origin(self) -> str:
        return f"{self.hub.get('topic')}/{self.hub.get('partition')}/{self.hub.get('offset')}"

    @property
    def omitted(self) -> list[str]:
        """The parts of the original left out to keep the dead letter within the limit."""
        return [k.removesuffix("_omitted") for k in self.hub if k.endswith("_omitted")]

    def as_json(self) -> dict[str, Any]:
        return {
            "dead_letter": self.name,
            "time": self.time.isoformat(),
            "department": self.department,
            "reason": self.reason,
            "pointer": self.hub.get("pointer"),
            "message": self.hub.get("message"),
            "topic": self.hub.get("topic"),
            "partition": int(self.hub.get("partition", -1)),
            "offset": int(self.hub.get("offset", -1)),
            "omitted": {part: self.hub[f"{part}_omitted"] for part in self.omitted},
            "key": _text(self.key),
            "value": _text(self.value),
            "headers": [[name, _text(value)] for name, value in self.headers],
        }


def _text(data: bytes | None) -> Any:
    """Bytes as JSON can hold them: text if UTF-8, else {"base64": ...}."""
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def _letter(record: Any) -> Letter:
    original, hub = [], {}
    for name, value in record.headers:
        if name.startswith(HUB):
            hub[name.removeprefix(HUB)] = (value or b"").decode(errors="replace")
        else:
            original.append((name, value or b""))
    return Letter(
        record.partition,
        record.offset,
        datetime.fromtimestamp(record.timestamp / 1000, UTC),
        record.key,
        record.value,
        tuple(original),
        hub,
    )


async def read_letters(
    clients: KafkaClients, selection: Selection, where: list[tuple[int, int]] | None = None
) -> AsyncIterator[Letter]:
    """The selected dead letters, oldest first in each partition, up to the topic's end when
    reading began; `where`, (partition, offset) pairs, reads just those."""
    partitions = await partition_count(clients, DEAD_LETTER)
    if partitions is None:
        raise LookupError(f"no topic {DEAD_LETTER} (or no right to see it)")
    # Committed dead letters only: the hub writes them in its batches' transactions.
    consumer = clients.consumer(enable_auto_commit=False, isolation_level="read_committed")
    await start_or_explain(consumer, clients, "to the brokers")
    try:
        wanted = [TopicPartition(DEAD_LETTER, p) for p in range(partitions)]
        if where is not None:
            wanted = [tp for tp in wanted if any(p == tp.partition for p, _ in where)]
        if not wanted:
            return
        consumer.assign(wanted)
        ends = await consumer.end_offsets(wanted)
        starts = await consumer.beginning_offsets(wanted)
        if selection.since is not None:
            found = await consumer.offsets_for_times(
                dict.fromkeys(wanted, int(selection.since.timestamp() * 1000))
            )
            starts = {tp: (o.offset if o else ends[tp]) for tp, o in found.items()}
        for tp in wanted:
            first = min((o for p, o in where or () if p == tp.partition), default=starts[tp])
            consumer.seek(tp, max(first, starts[tp]))
        pending = {tp for tp in wanted if await consumer.position(tp) < ends[tp]}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    letter = _letter(record)
                    if where is not None and (tp.partition, record.offset) not in where:
                        continue
                    if selection(letter):
                        yield letter
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


@dataclass
class Replayed:
    sent: Counter[str] = field(default_factory=Counter)  # by original topic
    skipped: Counter[str] = field(default_factory=Counter)  # by why


async def replay(
    clients: KafkaClients,
    letters: list[Letter],
    dry_run: bool,
    progress: Callable[[str], None],
) -> Replayed:
    """Send each letter's original to its topic again, with hub.replayed-from; a letter
    whose original was not kept whole is skipped, never sent in part."""
    result = Replayed()
    producer = None if dry_run else clients.producer(acks="all", enable_idempotence=True)
    if producer is not None:
        await start_or_explain(producer, clients, "to the brokers")
    try:
        for letter in letters:
            if letter.omitted:
                result.skipped[f"its {', '.join(letter.omitted)} not kept"] += 1
                continue
            topic = letter.hub.get("topic", "")
            if not topic.startswith("dept."):
                result.skipped["no input topic named"] += 1
                continue
            origin = f"{DEAD_LETTER}/{letter.partition}/{letter.offset}".encode()
            if producer is not None:
                headers = [*letter.headers, (REPLAYED_FROM, origin)]
                await producer.send_and_wait(topic, letter.value, letter.key, headers=headers)
            result.sent[topic] += 1
            progress(f"{'would replay' if dry_run else 'replayed'} {letter.name} to {topic}")
    finally:
        if producer is not None:
            await producer.stop()
    return result


def line_of(letter: Letter) -> str:
    pointer = letter.hub.get("pointer")
    where = f" at {pointer or '/'}" if pointer is not None else ""
    message = letter.hub.get("message", "")
    if len(message) > 100:
        message = message[:97] + "..."
    return (
        f"{letter.name:>9}  {letter.time:%Y-%m-%d %H:%M:%S}  {letter.department:<18} "
        f"{letter.reason}{where}: {message}  (from {letter.origin})"
    )


def show(letter: Letter) -> str:
    document = letter.as_json()
    if isinstance(document["value"], str):
        with contextlib.suppress(orjson.JSONDecodeError):  # a JSON value shown as JSON
            document["value"] = orjson.loads(document["value"])
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def write_jsonl(letters: list[Letter], output: Path) -> None:
    with output.open("wb") as out:
        for letter in letters:
            out.write(orjson.dumps(letter.as_json()) + b"\n")


def parse_name(name: str) -> tuple[int, int]:
    partition, colon, offset = name.partition(":")
    if not colon or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"{name!r}: a dead letter is named <partition>:<offset>, e.g. 0:42")
    return int(partition), int(offset)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def moment(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset, for --since and --until."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(
            f"{text!r}: give an ISO 8601 time with a UTC offset, e.g. 2026-12-03T08:00+02:00"
        )
    return parsed


def run_cli(args: Any, clients: KafkaClients, codes: frozenset[str], reasons: set[str]) -> int:
    """`pelastus-hub dead-letters`: prints the outcome, returns the exit code."""
    try:
        where = [parse_name(name) for name in args.names] or None
        since = moment(args.since) if args.since else None
        until = moment(args.until) if args.until else None
    except ValueError as error:
        say(f"error: {error}")
        return 2
    if args.department is not None and args.department not in codes:
        say(f"error: --department {args.department!r}: known: {', '.join(sorted(codes))}")
        return 2
    if args.reason is not None and args.reason not in reasons:
        say(f"error: --reason {args.reason!r}: known: {', '.join(sorted(reasons))}")
        return 2
    selection = Selection(args.department, args.reason, since, until)
    if args.action == "show" and where is None:
        say("error: show wants the dead letters' names, <partition>:<offset>")
        return 2
    if args.action == "replay" and where is None and selection == Selection():
        say("error: replay wants names or a selection (--department, --reason, --since)")
        return 2

    async def run() -> int:
        letters = [letter async for letter in read_letters(clients, selection, where)]
        if where is not None:
            missing = sorted(set(where) - {(x.partition, x.offset) for x in letters})
            if missing:
                names = ", ".join(f"{p}:{o}" for p, o in missing)
                say(f"error: no dead letter {names} (or not of the selection)")
                return 1
        if args.action == "list":
            if args.format == "json":
                print(orjson.dumps([x.as_json() for x in letters]).decode())
            else:
                for letter in letters:
                    print(line_of(letter))
                say(f"{len(letters)} dead letters")
        elif args.action == "show":
            for letter in letters:
                print(show(letter))
        elif args.action == "export":
            write_jsonl(letters, args.output)
            say(f"{len(letters)} dead letters written to {args.output}")
        else:
            done = await replay(clients, letters, args.dry_run, say)
            sent = ", ".join(f"{n} to {topic}" for topic, n in sorted(done.sent.items()))
            skipped = "; ".join(f"{n} skipped: {why}" for why, n in done.skipped.items())
            verb = "would replay" if args.dry_run else "replayed"
            say(
                f"{verb} {done.sent.total()} of {len(letters)}: {sent or 'none'}"
                + (f"; {skipped}" if skipped else "")
            )
        return 0

    return asyncio.run(run())
