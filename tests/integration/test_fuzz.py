"""Fuzzing one worker through the real broker: it never crashes or stalls, every record it
consumes is accounted for, and every valid record is accepted.

At least 10,000 records a run, the same every run: hypothesis (derandomized) draws the
values a careless or hostile producer sends, and a random.Random seeded by hypothesis and
each record's serial number shapes the records around them. Among valid events of all three
families (structured and binary mode, odd Unicode wherever the contract allows any string,
bounds, values and headers exactly at the worker's limits) go structure-aware mutations of
valid events (fields dropped, retyped, repeated, added; wrong types, times, types,
departments, keys; nesting 17 to 2,000 levels deep; broken binary-mode headers; bytes
truncated, re-encoded or garbled), random bytes and text, null and empty values, null and
huge keys, values over the worker's message limit (three of several MB), headers over its
header limit, null header values, events sent to another department's or family's topic,
and replays (duplicates) and older events (stale) of valid ones.

What each record must come to is decided without the hub's code: valid events are fresh
(a new entity, or newer than the entity's last event; always a new event id), and whether
a mutated record is valid is decided by the contract's JSON Schemas (the `jsonschema`
library, with ECMA-262 patterns) and the rules the README states beyond them. The test then
checks the worker's per-partition accounting (every offset consumed once, its outcome the
one meant), and that the dead letters are exactly the invalid records, one each, with the
reason meant where the order of the checks decides it.

PELASTUS_HUB_FUZZ_RECORDS sets another number of records for longer runs by hand, e.g.
`PELASTUS_HUB_FUZZ_RECORDS=100000 .venv/bin/pytest tests/integration/test_fuzz.py -s`;
`-s` shows the one-line summary. KNOWN_HUB_BUGS lists the hub bugs found and not yet fixed.
"""

import asyncio
import copy
import json
import os
import random
import re
import string
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.records import Record
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES as HUB_FAMILIES
from pelastus_hub.picture.kpi import KpiBook
from pelastus_hub.picture.kpi_windows import Windows
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.settings import HubSettings
from pelastus_hub.state.store import StoreContext
from tests.integration.hub_process import WorkerProcess
from tests.integration.test_worker import read_all
from tests.unit.test_contract_equivalence import EcmaValidator

pytestmark = pytest.mark.integration

RECORDS = int(os.environ.get("PELASTUS_HUB_FUZZ_RECORDS", "10000"))
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

# The worker's limits here: small, so that exceeding them is cheap.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 4096
MAX_JSON_DEPTH = 16
# The broker takes records up to 4 MiB (LocalKafka's message.max.bytes).
HUGE_VALUES = (1024 * 1024, 2 * 1024 * 1024, 3 * 1024 * 1024 + 512 * 1024)

# Event times: valid ones from BASE on, one second per record; all before LAST_PAST, and
# every time meant to be in the future after FUTURE_FLOOR, so no verdict depends on the clock.
BASE = datetime(2026, 6, 1, tzinfo=UTC)
LAST_PAST = datetime(2026, 11, 30, tzinfo=UTC)
FUTURE_FLOOR = datetime(2100, 1, 1, tzinfo=UTC)
FUTURE = "2999-01-01T00:00:00Z"
# Valid, in the past, and at the edges of what a date-time can say.
EDGE_TIMES = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "0001-01-02T12:00:00-23:59",
    "1900-01-01T00:00:00.000000001Z",
    "1970-01-01T00:00:00Z",
    "2000-02-29T23:59:59.999999999-12:00",
    "2024-02-29T12:00:00+14:00",
)

# Hub bugs this fuzz found, reported and not fixed yet. Until one is, the fuzz leaves its
# trigger out and a strict xfail test at the end of this module reproduces it. Once it is
# fixed, that test fails (XPASS): delete the entry here, and the test guards the fix and the
# fuzz sends the trigger again.
KNOWN_HUB_BUGS = frozenset(
    {
        # Structured mode: a number beyond a double (1e999) under a name that comes again
        # later in the object; the hub's first parse (pydantic) reads it and accepts the
        # event, which is no JSON (the same in binary mode: value_not_json). NaN and
        # Infinity were the same, and are fixed.
        "number_beyond_double_under_repeated_name",
    }
)

# ---------------------------------------------------------------- the contract, from schemas/


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _reference(schema: Any) -> Any:
    return EcmaValidator(schema, format_checker=FormatChecker())


FAMILIES = ("unit-status", "incident", "readiness")
KEY_FIELD = {"unit-status": "unit_id", "incident": "incident_id", "readiness": "station_id"}
TIME_FIELD = {"unit-status": "observed_at", "incident": "occurred_at", "readiness": "observed_at"}


def _newest_revisions(family: str) -> dict[int, Any]:
    """Major version -> its newest revision's schema (which accepts what every earlier did)."""
    newest: dict[int, tuple[int, Path]] = {}
    for path in (SCHEMAS / family).glob("v*.json"):
        major, revision = (int(part) for part in path.stem[1:].split("."))
        if revision >= newest.get(major, (-1, path))[0]:
            newest[major] = (revision, path)
    return {major: _load(path) for major, (_, path) in newest.items()}


SCHEMA_DOCS = {family: _newest_revisions(family) for family in FAMILIES}
DATA_SCHEMAS = {
    family: {major: _reference(doc) for major, doc in docs.items()}
    for family, docs in SCHEMA_DOCS.items()
}
ENVELOPE_DOC = _load(SCHEMAS / "envelope" / "v1.json")
ENVELOPE = _reference(ENVELOPE_DOC)
ENVELOPE_ATTRIBUTES = tuple(ENVELOPE_DOC["properties"])
# fi.pelastus.<family>.v<major> (README, "The contract")
TYPE = re.compile(r"^fi\.pelastus\.(?P<family>[a-z]+(?:-[a-z]+)*)\.v(?P<major>[1-9][0-9]*)$")

DEPARTMENTS = sorted(d["code"] for d in _load(SCHEMAS / "departments.json")["departments"])
_LISTED = _load(SCHEMAS / "municipalities.json")
MUNICIPALITIES = sorted(m["code"] for m in [*_LISTED["municipalities"], *_LISTED["pseudo_codes"]])
UNLISTED_MUNICIPALITIES = sorted({f"{n:03d}" for n in range(1000)} - set(MUNICIPALITIES))


def _enum(family: str, name: str) -> list[str]:
    return SCHEMA_DOCS[family][1]["properties"][name]["enum"]


UNIT_TYPES = _enum("unit-status", "unit_type")
UNIT_STATUSES = _enum("unit-status", "status")
INCIDENT_EVENTS = _enum("incident", "event")
INCIDENT_TYPES = _enum("incident", "incident_type")
URGENCIES = _enum("incident", "urgency")
RISK_CLASSES = _enum("incident", "risk_class")
MODES = ENVELOPE_DOC["properties"]["mode"]["enum"]

# ------------------------------------------------------------------ the reference verdict


def header_bytes(headers: Any) -> int:
    return sum(len(name.encode()) + len(value or b"") for name, value in headers)


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is beyond double precision")  # I-JSON, RFC 7493
    return number


def _depth(value: Any) -> int:
    """Levels of arrays and objects: 0 for a scalar, 1 for [] or {}."""
    depth, level = 0, [value] if isinstance(value, dict | list) else []
    while level:
        depth += 1
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
    return depth


def _has_surrogate(value: Any) -> bool:
    """A lone surrogate escape (\\ud800) is JSON syntax but no Unicode text (I-JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if re.search("[\ud800-\udfff]", item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _beyond_double(value: Any) -> bool:
    """An integer no double holds: JSON, but the hub's slow path (orjson) calls it no JSON."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**1024:
            return True
        if isinstance(item, dict | list):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False


def _json_object(raw: bytes) -> dict[str, Any] | frozenset[str]:
    """The value as a JSON object, or the reasons it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return frozenset({Reason.VALUE_NOT_UTF8})
    try:
        value = json.loads(text, parse_constant=_refuse, parse_float=_finite)
    except RecursionError:
        return frozenset({Reason.VALUE_TOO_DEEP})
    except ValueError:
        return frozenset({Reason.VALUE_NOT_JSON})
    if _has_surrogate(value):
        return frozenset({Reason.VALUE_NOT_JSON})
    deep = _depth(value) > MAX_JSON_DEPTH
    # A number no double holds may be called no JSON instead of the reason that follows.
    alike = [Reason.VALUE_NOT_JSON] if _beyond_double(value) else []
    if not isinstance(value, dict):
        # Too deep and no object: either reason describes it.
        deeper = [Reason.VALUE_TOO_DEEP] if deep else []
        return frozenset({Reason.VALUE_NOT_OBJECT, *deeper, *alike})
    if deep:
        return frozenset({Reason.VALUE_TOO_DEEP, *alike})
    return value


def reference_verdict(
    topic: str, key: bytes | None, value: bytes | None, headers: Any
) -> frozenset[str]:
    """Empty if the record is valid on its topic; else the reasons the dead letter may
    give, or {"any"} where the order of the checks (README, "Outcomes and reason codes")
    does not single one out: the envelope's and the schema's."""
    _, department, family = topic.split(".")
    if value is None:
        return frozenset({Reason.VALUE_NULL})
    if len(value) > MAX_MESSAGE_BYTES:
        return frozenset({Reason.VALUE_TOO_LARGE})
    if header_bytes(headers) > MAX_HEADER_BYTES:
        return frozenset({Reason.HEADERS_TOO_LARGE})
    parsed = _json_object(value)
    if isinstance(parsed, frozenset):
        return parsed
    by_name = dict(headers)
    if "ce_specversion" in by_name:  # binary mode: the attributes are ce_* headers
        event: dict[str, Any] = {}
        for name, text in by_name.items():
            if name.startswith("ce_"):
                try:
                    event[name[3:]] = text.decode("utf-8")
                except (AttributeError, UnicodeDecodeError):
                    return frozenset({"any"})
        event["data"] = parsed
    else:
        event = parsed
    return _event_verdict(event, department, family, key)


def _event_verdict(
    event: dict[str, Any], department: str, family: str, key: bytes | None
) -> frozenset[str]:
    if not ENVELOPE.is_valid(event):
        return frozenset({"any"})
    found = TYPE.match(event["type"])
    assert found is not None  # the envelope's pattern
    if found["family"] != family or int(found["major"]) not in DATA_SCHEMAS[family]:
        return frozenset({"any"})
    data = event["data"]
    if not DATA_SCHEMAS[family][int(found["major"])].is_valid(data):
        return frozenset({"any"})
    if data["department"] != department:
        if data["department"] in DEPARTMENTS:
            return frozenset({Reason.DEPARTMENT_MISMATCH})
        return frozenset({Reason.DEPARTMENT_UNKNOWN})
    if key is None or key != data[KEY_FIELD[family]].encode():
        return frozenset({Reason.KEY_MISMATCH})
    if data.get("municipality_code", MUNICIPALITIES[0]) not in MUNICIPALITIES:
        return frozenset({Reason.MUNICIPALITY_UNKNOWN})
    when = datetime.fromisoformat(data[TIME_FIELD[family]])
    if when >= FUTURE_FLOOR:
        return frozenset({Reason.EVENT_TIME_IN_FUTURE})
    assert when <= LAST_PAST, f"{when}: neither clearly past nor clearly future"
    return frozenset()


def _unless_known_bug(family: str, time: Any) -> Any:
    """The time, or one that is no trigger of a known hub bug."""
    year_one = isinstance(time, str) and time.startswith("0001-01-01")
    if year_one and family == "incident" and "incident_in_year_one" in KNOWN_HUB_BUGS:
        return "0001-01-02T12:00:00-23:59"
    return time


def _read_leniently(value: bytes, headers: Any) -> bool:
    """Whether a structured-mode value that is no JSON reads as a JSON object to a parser
    that takes numbers beyond a double (KNOWN_HUB_BUGS): the hub's outcome for it may then
    be any, depending on what else is in it."""
    if "ce_specversion" in dict(headers):
        return False
    try:
        event = json.loads(value.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return isinstance(event, dict) and not _has_surrogate(event) and _depth(event) <= MAX_JSON_DEPTH


# ------------------------------------------------------------------------------ encoding


class Pairs(list):
    """A JSON object written with exactly these (name, value) pairs, repeated names too."""


class Raw(str):
    """JSON text written as it is (NaN, 1e999, deep nesting)."""


def encode(value: Any, ascii_only: bool = True, pretty: bool = False) -> bytes:
    item_sep, key_sep = (", ", ": ") if pretty else (",", ":")

    def text(item: Any) -> str:
        if isinstance(item, Raw):
            return str(item)
        if isinstance(item, dict | Pairs):
            pairs = item.items() if isinstance(item, dict) else item
            return (
                "{"
                + item_sep.join(
                    json.dumps(name, ensure_ascii=ascii_only) + key_sep + text(v)
                    for name, v in pairs
                )
                + "}"
            )
        if isinstance(item, list):
            return "[" + item_sep.join(text(v) for v in item) + "]"
        return json.dumps(item, ensure_ascii=ascii_only, allow_nan=False)

    return text(value).encode("utf-8")


def nested(depth: int, leaf: str = "1", kind: str = "list") -> Raw:
    if kind == "list":
        return Raw("[" * depth + leaf + "]" * depth)
    return Raw('{"a":' * depth + leaf + "}" * depth)


# ------------------------------------------------------------------------------ values
# hypothesis draws the values a careless or hostile producer sends: each example a pool of
# them and a seed. Each record's structure (its kind, family, department, which field to
# spoil and how) comes from a random.Random of that seed and the record's serial number, and
# takes its values from the pool: a record costs no draws of its own, and records differ
# even where hypothesis repeats an example.

ODD = [
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u0000",
    "e\u0301",  # e and a combining acute
    "\U0001f469\u200d\U0001f692",  # woman firefighter: a ZWJ sequence
    "\U0001f692",
    "ä",
    "Å",
    "\ufeff",
    "\u2028",
    "\U0001d573",
    "\uff46",
    "\x7f",
    "\\",
    '"',
    "\n\t",
    "\U0010ffff",
    "\ufffd",
    "\u0645\u0631\u062d\u0628\u0627",
    "\u0d9a\u0dca\u200d\u0dbb",
]
# UTF-8 text: no surrogates, which no UTF-8 can carry.
odd_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.lists(st.sampled_from(ODD), max_size=6).map("".join),
)
EXTENSION_NAMES = st.one_of(
    st.sampled_from(["traceparent", "subject", "dataschema", "partitionkey", "ä", "x", ""]),
    st.text(st.characters(codec="utf-8"), max_size=10),
)
EXTENSION_VALUES = st.one_of(odd_text, st.integers(-(2**70), 2**70), st.booleans())
HEADER_NAMES = st.text(st.characters(codec="utf-8"), max_size=8)
JUNK_HEADER_VALUES = [
    b"\xff",
    b"\xc3(",
    b"\xed\xa0\x80",  # a surrogate, UTF-8 encoded: not UTF-8
    b"\xc0\x80",  # an overlong NUL
    "ä".encode("latin-1"),
    b"\x00",
    b"",
    None,
]
HEADER_VALUES = st.one_of(st.none(), st.binary(max_size=16), st.sampled_from(JUNK_HEADER_VALUES))
SPECIAL_VALUES = [
    *["", "NaN", "Infinity", "-1", "4", "true", "null", 0, -1, 31, 501, 2**63, -(2**63) - 1],
    *[4.0, 4.5, -0.0, 1e308, 5e-324, True, False, None, [], {}],
]
RAW_NUMBERS = [
    Raw(text)
    for text in (
        *["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "4.0e0", "40E-1"],
        *["0.4e1", "4" + "0" * 30, "-0", "1" + "0" * 400, "00", "+4", ".5", "0x10"],
    )
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
    st.sampled_from(SPECIAL_VALUES),
    st.sampled_from(RAW_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)
ODD_TIMES = [
    *[FUTURE, "9999-12-31T23:59:59.999999999+23:59", "9999-12-31T23:59:59Z"],
    *["0000-01-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-06-31T00:00:00Z"],
    *["2026-06-01T24:00:00Z", "2026-06-01T23:59:60Z", "2026-06-01T00:00:00"],
    *["2026-06-01 00:00:00Z", "2026-06-01T00:00:00z", "2026-06-01t00:00:00Z"],
    *["2026-06-01T00:00:00.1234567891Z", "2026-06-01T00:00:00.Z", "2026-06-01T00:00:00+24:00"],
    *["2026-06-01T00:00:00+0200", "2026-06-01T00:00:00Z\n", " 2026-06-01T00:00:00Z"],
    *["\u0662\u0660\u0662\u0666-06-01T00:00:00Z", "2026-6-1T0:0:0Z", "2026-06-01", "", "now"],
    *[1780272000, None, *EDGE_TIMES],
]
TYPES = [
    *["fi.pelastus.weather.v1", "fi.pelastus.{family}.v2", "fi.pelastus.{family}.v0"],
    *["fi.pelastus.{family}.v01", "fi.pelastus.{family}.v1\n", "fi.pelastus.{family}.v1.0"],
    *["fi.pelastus.{family}.v99999999999999999999", "FI.PELASTUS.{family}.V1"],
    *["fi.pelastus.unit_status.v1", "fi.pelastus..v1", "fi.pelastus.unit-status.v1"],
    *["fi.pelastus.incident.v1", "fi.pelastus.readiness.v1", "com.example.{family}.v1", ""],
]
SPECVERSIONS = ["0.3", "1", "1.0 ", "1.00", "", "\uff11.\uff10", 1.0, 1, None]
BAD_DEPARTMENTS = ["atlantis", "narnia-x", "Pirkanmaa", "pirkanmaa ", "", "a" * 41, "keski_uusimaa"]
# Each hypothesis example draws this many values of each kind for its records.
POOL = st.fixed_dictionaries(
    {
        kind: st.lists(strategy, min_size=size, max_size=size)
        for kind, (strategy, size) in {
            "text": (odd_text, 8),
            "json": (json_values, 6),
            "bytes": (st.binary(max_size=300), 3),
            "key": (st.binary(max_size=40), 2),
            "extension_name": (EXTENSION_NAMES, 6),
            "extension_value": (EXTENSION_VALUES, 6),
            "header_name": (HEADER_NAMES, 6),
            "header_value": (HEADER_VALUES, 6),
            "latitude": (st.floats(-90, 90), 3),
            "longitude": (st.floats(-180, 180), 3),
        }.items()
    }
)
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits

# What each drawn record is, out of 1000.
KINDS = {
    "valid": 370,
    "valid_next": 60,
    "valid_many_headers": 10,
    "replay": 25,
    "stale": 25,
    "mutant": 330,
    "department_mismatch": 15,
    "department_unknown": 8,
    "future": 10,
    "municipality_unknown": 8,
    "family_mismatch": 8,
    "version_unknown": 5,
    "family_unknown": 5,
    "key_null": 8,
    "key_wrong": 8,
    "key_huge": 2,
    "value_null": 8,
    "value_empty": 5,
    "not_utf8": 12,
    "not_object": 12,
    "deep": 8,
    "too_large": 3,
    "headers_too_large": 15,
    "random_bytes": 25,
    "random_text": 15,
}
RECORDS_PER_EXAMPLE = 25

# ------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Fuzzed:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    kind: str
    outcome: str  # what the hub must decide: accepted, duplicate, stale or dead_lettered
    # For a dead letter, the reasons it may carry; empty: any of pelastus_hub.contract.reasons.Reason.
    reasons: frozenset[str] = frozenset()

    @property
    def size(self) -> int:
        return len(self.key or b"") + len(self.value or b"") + header_bytes(self.headers)


@dataclass
class Event:
    """An event on its way to a record: what mutations work on."""

    department: str  # of the topic
    family: str  # of the topic
    attributes: dict[str, Any] | Pairs  # the envelope but data
    data: Any
    key: bytes | None
    binary: bool = False
    extra_headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    ascii_only: bool = True
    pretty: bool = False

    @property
    def topic(self) -> str:
        return f"dept.{self.department}.{self.family}"

    def encoded(self) -> tuple[bytes, list[tuple[str, bytes | None]]]:
        if self.binary:
            attributes = self.attributes.items() if isinstance(self.attributes, dict) else []
            headers = [(f"ce_{name}", _header(v)) for name, v in attributes]
            headers.append(("content-type", b"application/json"))
            value = encode(self.data, self.ascii_only, self.pretty)
        else:
            headers = [("content-type", b"application/cloudevents+json")]
            if isinstance(self.attributes, Pairs):
                document: Any = Pairs([*self.attributes, ("data", self.data)])
            else:
                document = {**self.attributes, "data": self.data}
            value = encode(document, self.ascii_only, self.pretty)
        return value, [*headers, *self.extra_headers]


def _header(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return _header_text(value).encode("utf-8")


def _header_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class Entity:
    """A unit's or station's newest valid event, for replays, stale events and newer ones."""

    event: Event
    record: Fuzzed
    when: datetime


class Corpus:
    """Draws the records. Whatever must be unique (entity and event ids, event times) comes
    from the record's serial number."""

    def __init__(self) -> None:
        self.records: list[Fuzzed] = []
        self.entities: list[Entity] = []
        self.incidents: dict[str, list[str]] = {}
        self.left_out = 0  # mutants that would trigger a known hub bug

    def begin_example(self, data: Any) -> None:
        """A new hypothesis example: a seed, and a pool of values its records take from.

        The same few draws for every example, whatever its records are: hypothesis requires
        an example's draws to depend on nothing but the example's own choices.
        """
        self.entities = []  # units and stations with a valid event
        self.incidents = {}  # department -> incident ids sent
        self.seed, self.pool = data.draw(st.tuples(st.integers(0, 2**64 - 1), POOL))

    def begin(self) -> None:
        """A new record: its structure from the example's seed and the record's serial."""
        self.rng = random.Random(f"{self.seed}/{self.serial}")

    def value(self, kind: str) -> Any:
        """One of the example's values of this kind (a copy: mutations change it in place)."""
        return copy.deepcopy(self.rng.choice(self.pool[kind]))

    def chance(self, share: float) -> bool:
        return self.rng.random() < share

    @property
    def serial(self) -> int:
        return len(self.records)

    def clock(self) -> datetime:
        return BASE + timedelta(seconds=self.serial)

    # -- valid events

    def stamp(self, moment: datetime) -> str:
        """RFC 3339 text of the moment, to the second, in a drawn offset and precision."""
        rng = self.rng
        minutes = rng.choice([None, 0, 120, 180, -330, 1439, -1439, 840])
        digits = rng.choice([0, 0, 3, 6, 9])
        local = moment.astimezone(UTC if minutes is None else timezone(timedelta(minutes=minutes)))
        text = f"{local.year:04d}-{local:%m-%dT%H:%M:%S}"
        if digits:
            text += "." + f"{local.microsecond:06d}000"[:digits]
        if minutes is None:
            return text + "Z"
        offset = local.strftime("%z")
        return f"{text}{offset[:3]}:{offset[3:]}"

    def event_time(self, family: str, edge_share: float = 0.03) -> str:
        """Now on this corpus's clock; a few at the edges of the calendar."""
        if self.chance(edge_share):
            return _unless_known_bug(family, self.rng.choice(EDGE_TIMES))
        return self.stamp(self.clock())

    def pattern(self, first: str, rest: str, longest: int, shortest: int = 0) -> str:
        rng = self.rng
        return rng.choice(first) + "".join(rng.choices(rest, k=rng.randint(shortest, longest)))

    def fresh_data(self, family: str, department: str) -> dict[str, Any]:
        rng, serial = self.rng, self.serial
        if family == "unit-status":
            crew = rng.randint(0, 30)
            fields: dict[str, Any] = {
                "department": department,
                "unit_id": f"F{serial:07d}{self.pattern(UPPER_DIGITS, UPPER_DIGITS, 5)}"[:16],
                "unit_type": rng.choice(UNIT_TYPES),
                "status": rng.choice(UNIT_STATUSES),
                "station_id": self.pattern(ALNUM, ALNUM + "_.-", 31),
                "crew": float(crew) if self.chance(0.1) else crew,
                "capabilities": sorted(
                    {
                        self.pattern(string.ascii_lowercase, "abz09_", 39)
                        for _ in range(rng.randint(0, 4))
                    }
                ),
            }
            position = rng.randint(0, 3)
            if position == 1:
                fields["position"] = None
            elif position >= 2:
                fields["position"] = {
                    "lat": self.value("latitude"),
                    "lon": self.value("longitude"),
                }
            incident = rng.randint(0, 3)
            if incident == 1:
                fields["incident_id"] = None
            elif incident == 2:
                fields["incident_id"] = self.pattern(ALNUM, ALNUM + "_.:-", 63)
        elif family == "readiness":
            fields = {
                "department": department,
                "station_id": f"FS{serial}-{self.pattern(ALNUM, ALNUM + '_.-', 10)}",
                "on_duty": {
                    "firefighters": rng.choice([0, 500, rng.randint(0, 500)]),
                    "officers": rng.randint(0, 500),
                    "ems": rng.randint(0, 500),
                },
                "volunteers_available": rng.randint(0, 500),
            }
        else:
            incident_id = f"FI-{serial}-{self.pattern(ALNUM, ALNUM + '_.:-', 16)}"
            fields = {"department": department, "incident_id": incident_id, "event": "opened"}
            fields.update(self.opening())
        fields[TIME_FIELD[family]] = self.event_time(family)
        return fields

    def opening(self) -> dict[str, Any]:
        rng = self.rng
        fields = {
            "incident_type": rng.choice(INCIDENT_TYPES),
            "urgency": rng.choice(URGENCIES),
            "municipality_code": rng.choice(MUNICIPALITIES),
        }
        if self.chance(0.5):
            fields["risk_class"] = rng.choice(RISK_CLASSES)
        if self.chance(0.25):
            fields["grid_square"] = f"{rng.randint(0, 9999):04d}:{rng.randint(0, 999):03d}"
        return fields

    def next_incident_event(self, department: str) -> dict[str, Any]:
        """Another event of an incident sent before: any valid incident event is accepted."""
        rng = self.rng
        incident_id = rng.choice(self.incidents[department])
        kind = rng.choice(INCIDENT_EVENTS)
        fields: dict[str, Any] = {
            "department": department,
            "incident_id": incident_id,
            "event": kind,
        }
        if kind == "opened":
            fields.update(self.opening())
        elif kind in ("unit_dispatched", "unit_on_scene"):
            fields["unit_id"] = self.pattern(string.ascii_uppercase, UPPER_DIGITS, 15, shortest=2)
        fields["occurred_at"] = self.event_time("incident", edge_share=0.01)
        return fields

    def envelope(self, family: str, binary: bool) -> dict[str, Any]:
        rng = self.rng
        suffix = self.value("text") if self.chance(0.25) else ""
        source = "/pelastuslaitos/fuzz/resource-system"
        if self.chance(0.2):
            source = self.value("text") or "/"
        attributes: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"fz{self.serial}/{suffix}"[:128],
            "source": source[:256],
            "type": f"fi.pelastus.{family}.v1",
            # When the event was made: not checked against the clock.
            "time": FUTURE if self.chance(0.02) else self.stamp(self.clock()),
        }
        if self.chance(0.5):
            attributes["datacontenttype"] = "application/json"
        if self.chance(0.3):
            attributes["mode"] = rng.choice(MODES)
        for _ in range(rng.choice([0, 0, 0, 1, 2, 3])):
            name = self.value("extension_name")
            if name not in ENVELOPE_ATTRIBUTES:
                value = self.value("extension_value")
                attributes[name] = _header_text(value) if binary else value
        if self.chance(0.2):
            names = list(attributes)
            rng.shuffle(names)
            attributes = {name: attributes[name] for name in names}
        return attributes

    def valid_event(self, family: str | None = None) -> Event:
        """A valid event; a new entity's, or a new event of an incident sent before."""
        rng = self.rng
        if family is None:
            family = rng.choices(FAMILIES, weights=[9, 6, 5])[0]
        department = rng.choice(DEPARTMENTS)
        binary = self.chance(0.25)
        if family == "incident" and self.incidents.get(department) and self.chance(0.5):
            fields = self.next_incident_event(department)
        else:
            fields = self.fresh_data(family, department)
        event = Event(
            department,
            family,
            self.envelope(family, binary),
            fields,
            fields[KEY_FIELD[family]].encode(),
            binary=binary,
            ascii_only=self.chance(0.5),
            pretty=self.chance(0.2),
        )
        if self.chance(0.15):
            event.extra_headers = self.harmless_headers(binary, rng.randint(1, 5))
        return event

    def harmless_headers(self, binary: bool, count: int) -> list[tuple[str, bytes | None]]:
        """Headers no check reads: no ce_* in binary mode, no ce_specversion in any."""
        headers = []
        for _ in range(count):
            name = self.value("header_name")
            if name.startswith("ce_") if binary else name == "ce_specversion":
                name = "x-" + name
            headers.append((name, self.value("header_value")))
        return headers

    # -- adding records

    def add(self, event: Event, kind: str, outcome: str, reasons: frozenset[str] = frozenset()):
        value, headers = event.encoded()
        self.add_record(
            Fuzzed(event.topic, event.key, value, tuple(headers), kind, outcome, reasons)
        )

    def add_record(self, record: Fuzzed) -> None:
        """The record, once the reference verdict agrees with what it was made to be."""
        verdict = reference_verdict(record.topic, record.key, record.value, record.headers)
        if record.outcome == "dead_lettered":
            assert verdict, f"{record.kind} was made invalid but is valid: {record}"
            if record.reasons:
                assert verdict == {"any"} or record.reasons <= verdict, (record, verdict)
            elif verdict != {"any"}:
                record = replace(record, reasons=verdict)
        else:
            assert not verdict, f"{record.kind} was made valid but is not {set(verdict)}: {record}"
        self.records.append(record)

    def add_valid(self, event: Event, kind: str) -> None:
        self.add(event, kind, "accepted")
        if event.family == "incident":
            known = self.incidents.setdefault(event.department, [])
            if event.data["incident_id"] not in known:
                known.append(event.data["incident_id"])
            return
        when = datetime.fromisoformat(event.data[TIME_FIELD[event.family]])
        if when >= BASE:  # not at an edge of the calendar: older and newer ones are easy
            self.entities.append(Entity(event, self.records[-1], when))

    # -- the kinds

    def draw_record(self) -> None:
        self.begin()
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        if kind in ("valid_next", "replay", "stale") and not self.entities:
            kind = "valid"
        getattr(self, "kind_" + kind)()

    def kind_valid(self) -> None:
        self.add_valid(self.valid_event(), "valid")

    def kind_valid_many_headers(self) -> None:
        event = self.valid_event()
        event.extra_headers = [(f"x-{i}", b"v" * self.rng.randint(0, 8)) for i in range(100)]
        self.add_valid(event, "valid_many_headers")

    def pick_entity(self) -> tuple[int, Entity]:
        index = self.rng.randrange(len(self.entities))
        return index, self.entities[index]

    def same_entity(self, old: Event, data: dict[str, Any]) -> Event:
        """Another event of old's entity: same topic, key and mode."""
        attributes = self.envelope(old.family, old.binary)
        attributes["mode"] = old.attributes.get("mode", "actual")
        return Event(old.department, old.family, attributes, data, old.key, binary=old.binary)

    def kind_valid_next(self) -> None:
        index, entity = self.pick_entity()
        old = entity.event
        data = self.fresh_data(old.family, old.department)
        key_field = KEY_FIELD[old.family]
        data[key_field] = old.data[key_field]
        moment = self.clock()
        data[TIME_FIELD[old.family]] = self.stamp(moment)
        event = self.same_entity(old, data)
        self.add(event, "valid_next", "accepted")
        self.entities[index] = Entity(event, self.records[-1], moment)

    def kind_replay(self) -> None:
        _, entity = self.pick_entity()
        self.add_record(replace(entity.record, kind="replay", outcome="duplicate"))

    def kind_stale(self) -> None:
        _, entity = self.pick_entity()
        data = dict(entity.event.data)
        earlier = entity.when - timedelta(seconds=self.rng.randint(1, 3600))
        data[TIME_FIELD[entity.event.family]] = self.stamp(earlier)
        self.add(self.same_entity(entity.event, data), "stale", "stale")

    def kind_mutant(self) -> None:
        event = self.valid_event()
        if event.family == "incident":
            # A mutant is about an entity of its own: valid or not, it meets no other record.
            event.data["incident_id"] = f"FI-{self.serial}-m"
            event.key = event.data["incident_id"].encode()
        for _ in range(self.rng.randint(1, 3)):
            self.rng.choice(MUTATIONS)(self, event)
        value, headers = event.encoded()
        if self.chance(0.15):
            value = self.rng.choice(BYTE_MUTATIONS)(self, value)
        verdict = reference_verdict(event.topic, event.key, value, headers)
        if verdict == {Reason.VALUE_NOT_JSON} and self.known_bug(event, value, headers):
            self.left_out += 1  # sent once the bug is fixed
            return
        outcome = "dead_lettered" if verdict else "accepted"
        self.add_record(Fuzzed(event.topic, event.key, value, tuple(headers), "mutant", outcome))

    def known_bug(self, event: Event, value: bytes, headers: Any) -> bool:
        """Whether a value that is no JSON is the trigger of a known hub bug."""
        if b"NaN" in value or b"Infinity" in value:
            return False
        return "number_beyond_double_under_repeated_name" in KNOWN_HUB_BUGS and (
            _read_leniently(value, headers)
        )

    def spoilt(self, event: Event, kind: str, reason: Reason) -> None:
        self.add(event, kind, "dead_lettered", frozenset({reason}))

    def kind_department_mismatch(self) -> None:
        event = self.valid_event()
        event.department = self.rng.choice([d for d in DEPARTMENTS if d != event.department])
        self.spoilt(event, "department_mismatch", Reason.DEPARTMENT_MISMATCH)

    def kind_department_unknown(self) -> None:
        event = self.valid_event()
        event.data["department"] = self.rng.choice(["atlantis", "narnia-x", "lappi-north"])
        self.spoilt(event, "department_unknown", Reason.DEPARTMENT_UNKNOWN)

    def kind_future(self) -> None:
        event = self.valid_event()
        future = [FUTURE, "9999-12-31T23:59:59Z", "2101-01-01T00:00:00.000000001+23:59"]
        event.data[TIME_FIELD[event.family]] = self.rng.choice(future)
        self.spoilt(event, "future", Reason.EVENT_TIME_IN_FUTURE)

    def kind_municipality_unknown(self) -> None:
        event = self.valid_event("incident")
        event.data.pop("unit_id", None)
        event.data.update(self.opening(), event="opened")
        event.data["municipality_code"] = self.rng.choice(UNLISTED_MUNICIPALITIES)
        self.spoilt(event, "municipality_unknown", Reason.MUNICIPALITY_UNKNOWN)

    def kind_family_mismatch(self) -> None:
        event = self.valid_event()
        event.family = self.rng.choice([f for f in FAMILIES if f != event.family])
        self.spoilt(event, "family_mismatch", Reason.TYPE_FAMILY_MISMATCH)

    def kind_version_unknown(self) -> None:
        event = self.valid_event()
        major = self.rng.choice([2, 3, 10, 10**6, 10**30])
        event.attributes["type"] = f"fi.pelastus.{event.family}.v{major}"
        self.spoilt(event, "version_unknown", Reason.TYPE_UNKNOWN_VERSION)

    def kind_family_unknown(self) -> None:
        event = self.valid_event()
        family = self.rng.choice(["weather", "unit-statuses", "kpi", "capability"])
        event.attributes["type"] = f"fi.pelastus.{family}.v1"
        self.spoilt(event, "family_unknown", Reason.TYPE_UNKNOWN_FAMILY)

    def kind_key_null(self) -> None:
        event = self.valid_event()
        event.key = None
        self.spoilt(event, "key_null", Reason.KEY_MISMATCH)

    def kind_key_wrong(self) -> None:
        event = self.valid_event()
        key = self.value("key") if self.chance(0.5) else self.value("text").encode()
        event.key = key if key != event.key else key + b"x"
        self.spoilt(event, "key_wrong", Reason.KEY_MISMATCH)

    def kind_key_huge(self) -> None:
        event = self.valid_event()
        event.key = (event.key or b"") + b"\xff" * self.rng.randint(
            MAX_MESSAGE_BYTES, 4 * MAX_MESSAGE_BYTES
        )
        self.spoilt(event, "key_huge", Reason.KEY_MISMATCH)

    def kind_value_null(self) -> None:
        event = self.valid_event()
        _, headers = event.encoded()
        # A client sends no record without key and value: this one has its key.
        self.add_record(
            Fuzzed(event.topic, event.key, None, tuple(headers), "value_null", "dead_lettered")
        )

    def kind_value_empty(self) -> None:
        event = self.valid_event()
        _, headers = event.encoded()
        self.add_record(
            Fuzzed(event.topic, event.key, b"", tuple(headers), "value_empty", "dead_lettered")
        )

    def kind_not_utf8(self) -> None:
        event = self.valid_event()
        rng = self.rng
        # In the value, and in every encoding tried here, not UTF-8: ä is one byte, 0xe4.
        event.binary = False
        event.attributes["source"] = "/pelastuslaitos/ä" + rng.choice(["", "Åland", "😀", "€"])
        event.ascii_only = False
        value, headers = event.encoded()
        how = rng.choice(["utf-16", "utf-32", "latin-1", "cp1252", "inject"])
        if how == "inject":
            at = rng.randint(0, len(value))
            junk = rng.choice([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
            value = value[:at] + junk + value[at:]
        else:
            value = value.decode().encode(how, "replace")
        self.add_record(
            Fuzzed(event.topic, event.key, value, tuple(headers), "not_utf8", "dead_lettered")
        )

    def kind_not_object(self) -> None:
        event = self.valid_event()
        document = self.value("json")
        if isinstance(document, dict) or self.chance(0.3):  # the event itself, in an array
            document = [{**event.attributes, "data": event.data}]
        _, headers = event.encoded()
        value = encode(document, self.chance(0.5))
        self.add_record(
            Fuzzed(event.topic, event.key, value, tuple(headers), "not_object", "dead_lettered")
        )

    def kind_deep(self) -> None:
        event = self.valid_event()
        rng = self.rng
        deep = nested(
            rng.choice([MAX_JSON_DEPTH + 1, 50, 1025, 2000]), kind=rng.choice(["list", "object"])
        )
        where = rng.choice(["attribute", "data", "value"])
        if where == "value":
            _, headers = event.encoded()
            self.add_record(
                Fuzzed(
                    event.topic, event.key, encode(deep), tuple(headers), "deep", "dead_lettered"
                )
            )
            return
        if where == "attribute" and not event.binary:
            event.attributes["note"] = deep
        else:
            event.data["note"] = deep
        self.spoilt(event, "deep", Reason.VALUE_TOO_DEEP)

    def kind_too_large(self) -> None:
        self.add_too_large(self.rng.randint(MAX_MESSAGE_BYTES + 1, 5 * MAX_MESSAGE_BYTES))

    def add_too_large(self, size: int, kind: str = "too_large") -> None:
        event = self.valid_event()
        value, headers = event.encoded()
        filler = self.rng.choice([b" ", b"\xff", b"x"]) * (size - len(value))
        value = value + filler if filler.startswith(b" ") else value[:1] + filler + value[1:]
        self.add_record(
            Fuzzed(
                event.topic,
                event.key,
                value,
                tuple(headers),
                kind,
                "dead_lettered",
                frozenset({Reason.VALUE_TOO_LARGE}),
            )
        )

    def kind_headers_too_large(self) -> None:
        event = self.valid_event()
        _, headers = event.encoded()
        room = MAX_HEADER_BYTES - header_bytes(headers)
        how = self.rng.choice(["one", "many", "name"])
        if how == "one":
            size = self.rng.randint(room, 4 * MAX_HEADER_BYTES)
            event.extra_headers.append(("x-big", b"\x00" * size))
        elif how == "many":
            added: list[tuple[str, bytes | None]] = []
            while header_bytes(added) <= room:
                added.append((f"h{len(added)}", None if len(added) % 3 else b"0123456789"))
            event.extra_headers += added
        else:
            event.extra_headers.append(("n" * (room + self.rng.randint(1, 100)), None))
        self.spoilt(event, "headers_too_large", Reason.HEADERS_TOO_LARGE)

    def kind_random_bytes(self) -> None:
        self.add_junk("random_bytes", self.value("bytes"))

    def kind_random_text(self) -> None:
        self.add_junk("random_text", self.value("text").encode())

    def add_junk(self, kind: str, value: bytes) -> None:
        topic = f"dept.{self.rng.choice(DEPARTMENTS)}.{self.rng.choice(FAMILIES)}"
        key = None if self.chance(0.3) else self.value("key")
        self.add_record(Fuzzed(topic, key, value, (), kind, "dead_lettered"))

    # -- the fixed ones: sizes exactly at the limits and just over, and several MB

    def add_boundaries(self) -> None:
        self.begin()
        for size, kind in (
            (MAX_MESSAGE_BYTES, "valid_at_value_limit"),
            (MAX_MESSAGE_BYTES + 1, "too_large"),
        ):
            event = self.valid_event("unit-status")
            event.binary = False
            event.attributes["pad"] = ""
            value, _ = event.encoded()
            event.attributes["pad"] = "p" * (size - len(value))
            value, headers = event.encoded()
            assert len(value) == size
            if size <= MAX_MESSAGE_BYTES:
                self.add_record(
                    Fuzzed(event.topic, event.key, value, tuple(headers), kind, "accepted")
                )
            else:
                self.spoilt(event, kind, Reason.VALUE_TOO_LARGE)
        for size, kind in (
            (MAX_HEADER_BYTES, "valid_at_header_limit"),
            (MAX_HEADER_BYTES + 1, "headers_too_large"),
        ):
            event = self.valid_event("readiness")
            _, headers = event.encoded()
            event.extra_headers.append(("x-pad", b"\xff" * (size - header_bytes(headers) - 5)))
            assert header_bytes(event.encoded()[1]) == size
            if size <= MAX_HEADER_BYTES:
                self.add(event, kind, "accepted")
            else:
                self.spoilt(event, kind, Reason.HEADERS_TOO_LARGE)
        for size in HUGE_VALUES:
            self.add_too_large(size, "several_mb")


# ---------------------------------------------------------------------------- mutations


def _target(corpus: Corpus, event: Event) -> dict[str, Any] | Pairs:
    """The envelope, the data, or an object in the data."""
    where = corpus.rng.choice(["envelope", "data", "data", "nested"])
    if where == "envelope" or not isinstance(event.data, dict):
        return event.attributes
    if where == "nested":
        inner = [v for v in event.data.values() if isinstance(v, dict)]
        if inner:
            return corpus.rng.choice(inner)
    return event.data


def _names(target: dict[str, Any] | Pairs) -> list[str]:
    return [name for name, _ in target] if isinstance(target, Pairs) else list(target)


def _set(target: dict[str, Any] | Pairs, name: str, value: Any) -> None:
    if isinstance(target, Pairs):
        if name in _names(target):
            target[:] = [(n, value if n == name else v) for n, v in target]
        else:
            target.append((name, value))
    else:
        target[name] = value


def _spoil_field(corpus: Corpus, event: Event, value: Any) -> None:
    target = _target(corpus, event)
    if names := _names(target):
        _set(target, corpus.rng.choice(names), value)


def drop(corpus: Corpus, event: Event) -> None:
    target = _target(corpus, event)
    if names := _names(target):
        name = corpus.rng.choice(names)
        if isinstance(target, Pairs):
            target[:] = [(n, v) for n, v in target if n != name]
        else:
            del target[name]


def retype(corpus: Corpus, event: Event) -> None:
    _spoil_field(corpus, event, corpus.value("json"))


def odd_string(corpus: Corpus, event: Event) -> None:
    _spoil_field(corpus, event, corpus.value("text") * corpus.rng.choice([1, 1, 1, 100]))


def odd_number(corpus: Corpus, event: Event) -> None:
    _spoil_field(corpus, event, corpus.rng.choice(SPECIAL_VALUES + RAW_NUMBERS))


def add_field(corpus: Corpus, event: Event) -> None:
    target = _target(corpus, event)
    name = corpus.rng.choice([corpus.value("extension_name"), "colour", "extra", "data2", "ID"])
    _set(target, name, corpus.value(corpus.rng.choice(["json", "extension_value"])))


def repeat_field(corpus: Corpus, event: Event) -> None:
    """One name twice in a JSON object, the copy first or last (binary mode: in the data)."""
    target = _target(corpus, event)
    if event.binary and target is event.attributes:
        if not isinstance(event.data, dict):
            return
        target = event.data
    if not (names := _names(target)):
        return
    name = corpus.rng.choice(names)
    pairs = Pairs(target.items() if isinstance(target, dict) else target)
    again = (name, corpus.value("json") if corpus.chance(0.7) else dict(pairs)[name])
    pairs.insert(0 if corpus.chance(0.5) else len(pairs), again)
    if target is event.attributes:
        event.attributes = pairs
    elif target is event.data:
        event.data = pairs
    else:  # an object inside the data
        parent = next(k for k, v in event.data.items() if v is target)
        event.data[parent] = pairs


def odd_time(corpus: Corpus, event: Event) -> None:
    value = _unless_known_bug(event.family, corpus.rng.choice(ODD_TIMES))
    if corpus.chance(0.3) or not isinstance(event.data, dict):
        _set(event.attributes, "time", value)
    else:
        event.data[TIME_FIELD[event.family]] = value


def odd_type(corpus: Corpus, event: Event) -> None:
    _set(event.attributes, "type", corpus.rng.choice(TYPES).format(family=event.family))


def odd_specversion(corpus: Corpus, event: Event) -> None:
    _set(event.attributes, "specversion", corpus.rng.choice(SPECVERSIONS))


def odd_mode(corpus: Corpus, event: Event) -> None:
    _set(event.attributes, "mode", corpus.rng.choice(["exercise", "test", "Exercise", "", None, 1]))


def odd_department(corpus: Corpus, event: Event) -> None:
    if isinstance(event.data, dict):
        event.data["department"] = corpus.rng.choice([*DEPARTMENTS, *BAD_DEPARTMENTS, 5, None])


def odd_entity(corpus: Corpus, event: Event) -> None:
    if isinstance(event.data, dict):
        other = corpus.rng.choice(["RPI487", "PI-2026-004512", "PI-4", "rpi487", ""])
        event.data[KEY_FIELD[event.family]] = other if corpus.chance(0.5) else corpus.value("json")


def odd_nesting(corpus: Corpus, event: Event) -> None:
    target = _target(corpus, event)
    names = _names(target)
    name = corpus.rng.choice(names) if names and corpus.chance(0.5) else "note"
    depth = corpus.rng.randint(2, 40)
    _set(target, name, nested(depth, kind=corpus.rng.choice(["list", "object"])))


def odd_data(corpus: Corpus, event: Event) -> None:
    event.data = corpus.value("json")


def odd_headers(corpus: Corpus, event: Event) -> None:
    """Binary mode's attributes broken: dropped, not UTF-8, null, unknown ones added, or the
    marker of binary mode lost; in structured mode, ce_* headers the hub must not read."""
    rng = corpus.rng
    if not event.binary or not isinstance(event.attributes, dict):
        name = rng.choice(["ce_id", "ce_type", "ce_source", "ce_", "ce_mode"])
        event.extra_headers.append((name, rng.choice(JUNK_HEADER_VALUES)))
        return
    names = [n for n in event.attributes if n != "specversion"]
    how = rng.choice(["drop", "junk", "junk", "add", "unmark"])
    if how == "drop" and names:
        del event.attributes[rng.choice(names)]
    elif how == "junk":
        event.attributes[rng.choice([*names, "specversion"])] = rng.choice(JUNK_HEADER_VALUES)
    elif how == "add":
        name = corpus.value("extension_name")
        if name not in event.attributes:
            event.attributes[name] = rng.choice(JUNK_HEADER_VALUES)
    else:  # without its marker the value is data alone, no event
        event.attributes.pop("specversion", None)
        marker = rng.choice(["CE_specversion", "ce-specversion", "ce_specversion "])
        event.extra_headers.append((marker, b"1.0"))


MUTATIONS = [
    *[drop, drop, retype, retype, add_field, repeat_field, odd_string, odd_number, odd_time],
    *[odd_type, odd_specversion, odd_mode, odd_department, odd_entity, odd_nesting, odd_data],
    *[odd_headers, odd_headers],
]


def _truncate(corpus: Corpus, value: bytes) -> bytes:
    return value[: corpus.rng.randrange(max(len(value), 1))]


def _insert(corpus: Corpus, value: bytes) -> bytes:
    at = corpus.rng.randint(0, len(value))
    junk = bytes(corpus.rng.randrange(256) for _ in range(corpus.rng.randint(1, 3)))
    return value[:at] + junk + value[at:]


def _overwrite(corpus: Corpus, value: bytes) -> bytes:
    if not value:
        return b"\x00"
    at = corpus.rng.randrange(len(value))
    return value[:at] + bytes([corpus.rng.randint(0, 255)]) + value[at + 1 :]


def _append(corpus: Corpus, value: bytes) -> bytes:
    return value + corpus.rng.choice([b"\x00", b"{}", b" ", b"\n", b"\xff", b",", value])


def _bom(corpus: Corpus, value: bytes) -> bytes:
    return b"\xef\xbb\xbf" + value


def _reencode(corpus: Corpus, value: bytes) -> bytes:
    encoding = corpus.rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"])
    return value.decode("utf-8", "replace").encode(encoding, "replace")


BYTE_MUTATIONS = [_truncate, _insert, _overwrite, _append, _bom, _reencode]


# ---------------------------------------------------------------------------- generation


def _derandomized(examples: int) -> Any:
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def generate(count: int) -> Corpus:
    """At least `count` records, the same every run (derandomized hypothesis).

    Each hypothesis example draws a seed and a pool of values for a run of records that
    refer only to each other (replays, older and newer events of its entities). The serial
    number, which makes ids and times unique, carries over from one example to the next.
    """
    corpus = Corpus()

    @_derandomized(examples=1)
    @given(st.data())
    def draw_boundaries(data: st.DataObject) -> None:
        corpus.begin_example(data)
        corpus.add_boundaries()

    def draw_some(examples: int) -> None:
        @_derandomized(examples)
        @given(st.data())
        def draw(data: st.DataObject) -> None:
            corpus.begin_example(data)
            for _ in range(RECORDS_PER_EXAMPLE):
                corpus.draw_record()

        draw()

    draw_boundaries()
    while len(corpus.records) < count:
        draw_some((count - len(corpus.records)) // RECORDS_PER_EXAMPLE + 1)
    return corpus


# ------------------------------------------------------------------------------ the test

OUTCOMES = ("accepted", "duplicate", "stale", "dead_lettered")
PARTITIONS = 3  # of every input topic and of hub.dead-letter (the worker's default)
# How long the worker may go without consuming anything before it counts as stalled, and
# how long all may take: generous, for a busy CI machine.
STALL_SECONDS = 120.0
TIMEOUT_SECONDS = 900.0


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generate(RECORDS)


@pytest.fixture
def fuzz_worker(broker, tmp_path):
    years = str(10 * 365 * 24 * 3600)  # no department is ever flagged stale meanwhile
    process = WorkerProcess(
        broker,
        tmp_path / "worker.log",
        max_message_bytes=str(MAX_MESSAGE_BYTES),
        max_header_bytes=str(MAX_HEADER_BYTES),
        max_json_depth=str(MAX_JSON_DEPTH),
        stale_after_seconds=years,
    )
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


async def produce_all(broker: str, records: list[Fuzzed]) -> list[tuple[int, int]]:
    """Send every record in order; (partition, offset) of each. Idempotence keeps each
    partition's records in the order sent: replays and stale events after their originals."""
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        max_request_size=5 * 1024 * 1024,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )
    await producer.start()
    try:
        sent = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        delivered = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return [(metadata.partition, metadata.offset) for metadata in delivered]


async def end_offsets(broker: str) -> dict[tuple[str, int], int]:
    """The end offset of every input partition, as the broker has it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(f"dept.{department}.{family}", partition)
            for department in DEPARTMENTS
            for family in FAMILIES
            for partition in range(PARTITIONS)
        ]
        ends = await consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): end for tp, end in ends.items()}
    finally:
        await consumer.stop()


def log_tail(worker: WorkerProcess) -> str:
    return worker.log_path.read_text(errors="replace")[-6000:]


async def wait_accounted(worker: WorkerProcess, total: int) -> dict[str, Any]:
    """The worker's accounting once it has consumed `total` records; fails as soon as the
    worker exits, or consumes nothing for STALL_SECONDS."""
    assert worker.process is not None
    began = moved = time.monotonic()
    consumed = -1
    while True:
        exited = worker.process.poll()
        assert exited is None, f"the worker exited with {exited}; its log:\n{log_tail(worker)}"
        try:
            status, body = worker.get_json("/api/v1/accounting")
        except OSError:  # exiting: the next poll says so
            await asyncio.sleep(0.25)
            continue
        assert status == 200, body
        now_consumed = sum(p["consumed"] for p in body["partitions"])
        if now_consumed >= total:
            return body
        if now_consumed != consumed:
            consumed, moved = now_consumed, time.monotonic()
        idle, spent = time.monotonic() - moved, time.monotonic() - began
        assert idle < STALL_SECONDS, (
            f"stalled: {consumed} of {total} consumed, none for {idle:.0f} s; "
            f"log:\n{log_tail(worker)}"
        )
        assert spent < TIMEOUT_SECONDS, f"{consumed} of {total} consumed in {spent:.0f} s"
        await asyncio.sleep(0.25)


def describe(record: Fuzzed) -> str:
    def cut(raw: bytes | None) -> str:
        return "None" if raw is None else f"{raw[:300]!r} ({len(raw)} bytes)"

    return (
        f"{record.kind} to {record.topic}, meant {record.outcome} "
        f"{sorted(record.reasons) or ''}: key {cut(record.key)}, value {cut(record.value)}, "
        f"headers {list(record.headers)[:8]!r}"
    )


async def test_fuzzed_records_are_all_accounted_for_and_every_valid_one_accepted(
    broker, fuzz_worker, corpus
):
    began = time.monotonic()
    records = corpus.records
    placed = await produce_all(broker, records)
    inputs = {(r.topic, *place): r for r, place in zip(records, placed, strict=True)}
    assert len(inputs) == len(records)
    expected: dict[tuple[str, int], Counter[str]] = {}
    ends: dict[tuple[str, int], int] = {}
    for topic, partition, offset in inputs:
        expected.setdefault((topic, partition), Counter())[
            inputs[topic, partition, offset].outcome
        ] += 1
        ends[topic, partition] = max(ends.get((topic, partition), 0), offset + 1)
    # The input topics are the worker's own, fresh: what this test sent is all they hold.
    on_broker = await end_offsets(broker)
    assert on_broker == {tp: ends.get(tp, 0) for tp in on_broker}
    assert set(ends) <= set(on_broker)

    accounting = await wait_accounted(fuzz_worker, len(records))
    assert fuzz_worker.process is not None and fuzz_worker.process.poll() is None
    status, health = fuzz_worker.get_json("/healthz")
    assert status == 200, health

    # Every dead letter names one input record; which ones tells what the hub decided.
    letters = await read_all(broker, "hub.dead-letter", partitions=PARTITIONS)
    pointed: Counter[tuple[str, int, int]] = Counter()
    reasons: Counter[str] = Counter()
    wrong: list[str] = []
    for letter in letters:
        headers = dict(letter.headers)  # the hub's own headers come last
        reason = headers["hub.error.reason"].decode()
        place = (
            headers["hub.error.topic"].decode(),
            int(headers["hub.error.partition"]),
            int(headers["hub.error.offset"]),
        )
        pointed[place] += 1
        reasons[reason] += 1
        original = inputs.get(place)
        if original is None:
            wrong.append(f"a dead letter for no record sent: {place}")
            continue
        if original.outcome != "dead_lettered" or (
            original.reasons and reason not in original.reasons
        ):
            message = headers["hub.error.message"].decode(errors="replace")
            wrong.append(f"dead-lettered as {reason} ({message}): {describe(original)}")
        size = len(letter.key or b"") + len(letter.value or b"") + header_bytes(letter.headers)
        assert size <= MAX_MESSAGE_BYTES, f"a {size}-byte dead letter for {place}"
        if "hub.error.key_omitted" not in headers:
            assert letter.key == original.key, place
        if "hub.error.value_omitted" not in headers:
            # A record with neither key nor value left would be refused: the value is b"".
            emptied = original.value is None and letter.key is None and letter.value == b""
            assert letter.value == original.value or emptied, place
        if "hub.error.headers_omitted" not in headers:
            assert list(letter.headers[: len(original.headers)]) == list(original.headers)
    missing = [
        describe(r)
        for place, r in inputs.items()
        if r.outcome == "dead_lettered" and not pointed[place]
    ]

    kinds = Counter(r.kind for r in records)
    outcomes = Counter(r.outcome for r in records)
    still_valid = sum(r.kind == "mutant" and r.outcome == "accepted" for r in records)
    print(
        f"\nfuzz: {len(records)} records sent and accounted for in "
        f"{time.monotonic() - began:.0f} s; by kind {dict(kinds.most_common())}; meant "
        f"{dict(outcomes)} (accepted: {outcomes['accepted'] - still_valid} valid as made, "
        f"{still_valid} mutants still valid); largest {max(r.size for r in records)} bytes; "
        f"{len(letters)} dead letters by reason {dict(reasons.most_common())}; "
        f"{corpus.left_out} mutants left out as known hub bugs' triggers"
    )

    assert not wrong, f"{len(wrong)} records decided otherwise than meant:\n" + "\n".join(
        wrong[:10]
    )
    assert not missing, f"{len(missing)} invalid records not dead-lettered:\n" + "\n".join(
        missing[:10]
    )
    assert all(n == 1 for n in pointed.values()), [p for p, n in pointed.items() if n > 1][:10]
    assert set(reasons) <= {reason.value for reason in Reason}, reasons

    by_partition = {(p["topic"], p["partition"]): p for p in accounting["partitions"]}
    assert set(by_partition) == set(expected)
    for tp, row in by_partition.items():
        decided = {outcome: row[outcome] for outcome in OUTCOMES}
        assert row["consumed"] == sum(decided.values()), row
        assert row["next_offset"] == ends[tp], (row, ends[tp])
        assert decided == {outcome: expected[tp][outcome] for outcome in OUTCOMES}, (
            row,
            expected[tp],
        )
    assert sum(row["consumed"] for row in by_partition.values()) == len(records)
    accepted = sum(row["accepted"] for row in by_partition.values())
    assert accepted == outcomes["accepted"]
    assert fuzz_worker.process.poll() is None


# ---------------------------------------------------------------- known hub bugs, reproduced


def decide(topic: str, key: bytes, value: bytes, headers: Any = ()) -> str:
    """The outcome the hub's own code gives one record, validated and applied as the worker
    does (pelastus_hub.pipeline.batch.process_batch, with the worker's KPI book telling late incidents)."""
    settings = HubSettings(
        max_message_bytes=MAX_MESSAGE_BYTES,
        max_header_bytes=MAX_HEADER_BYTES,
        max_json_depth=MAX_JSON_DEPTH,
    )
    registry = Registry.load(SCHEMAS)
    kpis = KpiBook(
        Windows(settings.kpi_time_zone),
        settings.kpi_grace_seconds,
        dict(settings.kpi_target_seconds),
    )
    context = StoreContext(is_late=kpis.is_late)
    stores = {name: family.new_store(context) for name, family in HUB_FAMILIES.items()}
    record = Record(topic, key, value, headers, partition=0, offset=0)
    result = process_batch(
        [record],
        input_routes(registry, HUB_FAMILIES.values()),
        Validator.from_settings(registry, HUB_FAMILIES, settings),
        stores,
        datetime.now(UTC),
    )
    if result.dead_letters:
        return result.dead_letters[0].rejection.reason.value
    [(_, _, outcome)] = result.outcomes
    return outcome.value


def test_an_incident_on_the_first_day_of_year_one_is_accepted():
    data = {
        "department": "pirkanmaa",
        "incident_id": "PI-0001-000001",
        "event": "opened",
        "incident_type": "building_fire",
        "urgency": "A",
        "municipality_code": "837",
        "occurred_at": "0001-01-01T00:00:00Z",
    }
    event = {
        "specversion": "1.0",
        "id": "year-one",
        "source": "/pelastuslaitos/pirkanmaa/resource-system",
        "type": "fi.pelastus.incident.v1",
        "time": "2026-06-01T00:00:00Z",
        "data": data,
    }
    value = json.dumps(event).encode()
    assert not reference_verdict("dept.pirkanmaa.incident", b"PI-0001-000001", value, ())
    assert decide("dept.pirkanmaa.incident", b"PI-0001-000001", value) == "accepted"


def test_nan_under_a_repeated_name_is_no_json():
    example = (SCHEMAS / "envelope" / "examples" / "unit-status-structured.json").read_text()
    event = json.loads(example)
    text = json.dumps(event, separators=(",", ":"))
    value = text.replace('"crew":4', '"crew":NaN,"crew":4').encode()
    assert b"NaN" in value
    topic, key = f"dept.{event['data']['department']}.unit-status", b"RPI487"
    assert reference_verdict(topic, key, value, ()) == {Reason.VALUE_NOT_JSON}
    assert decide(topic, key, value) == Reason.VALUE_NOT_JSON
