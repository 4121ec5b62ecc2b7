"""`pelastus-hub validate`: the hub's own rules applied to messages in files, without a broker.

Departments run it before they go live and in their own CI: what it accepts, the
hub accepts, because it is the hub's Validator that decides. Each file holds one
CloudEvent in structured mode; `.jsonl` and `.ndjson` files (or --jsonl) hold one
per line; `-` reads standard input. With --family, each holds a bare payload of that
family (what goes in an event's `data`): it is checked inside an envelope made for it,
and what is wrong is pointed to in the payload itself.
"""

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from pelastus_hub.contract.envelope import parse_type
from pelastus_hub.contract.records import Record, Rejection
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings

# Stands for "the department could not be told": never a registry code, so a payload
# naming an unknown department is reported as such.
UNKNOWN_DEPARTMENT = "?"


def read_messages(paths: list[str], jsonl: bool, stdin: TextIO) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message: 'file.json', or 'file.jsonl:12' per line."""
    for path in paths:
        raw = stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        name = "<stdin>" if path == "-" else path
        if jsonl or path.endswith((".jsonl", ".ndjson")):
            for number, line in enumerate(raw.splitlines(), 1):
                if line.strip():
                    yield f"{name}:{number}", line
        else:
            yield name, raw


def enveloped(raw: bytes, family: str, now: datetime, number: int) -> bytes:
    """A bare payload in a structured CloudEvent of its family's newest major version, as
    a department's system would send it; left as it is if it is no JSON object (the
    validator then says what is wrong with it as a value)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(payload, dict):
        return raw
    department = payload.get("department")
    event = {
        "specversion": "1.0",
        "id": f"validate-{number}",
        "source": f"/pelastuslaitos/{department}/validate",
        "type": f"fi.pelastus.{family}.v{max(FAMILIES[family].models)}",
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "data": payload,
    }
    return orjson.dumps(event)


def in_payload(verdict: dict[str, Any]) -> dict[str, Any]:
    """A verdict on an enveloped payload, pointing into the payload rather than the event."""
    if verdict["valid"]:
        return {key: value for key, value in verdict.items() if key != "event_id"}
    pointer = verdict["pointer"]
    if pointer is not None and pointer.startswith("/data"):
        verdict["pointer"] = pointer.removeprefix("/data")
        verdict["message"] = verdict["message"].replace(pointer, verdict["pointer"] or "/", 1)
    return {key: value for key, value in verdict.items() if key != "event_id"}


def check_message(
    raw: bytes,
    validator: Validator,
    registry: Registry,
    department: str | None,
    key: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The hub's verdict on one message, as a JSON-ready dict."""
    # A message whose type names no family is judged as unit status: the validator then
    # says what is wrong with its type.
    fallback = FAMILIES["unit-status"]
    family, payload = fallback, {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        document = None  # the validator says what is wrong with it
    if isinstance(document, dict):
        parsed = parse_type(document.get("type")) if isinstance(document.get("type"), str) else None
        family = FAMILIES.get(parsed[0], fallback) if parsed else fallback
        payload = document.get("data") if isinstance(document.get("data"), dict) else {}
    claimed = payload.get("department")
    if department is None:
        department = claimed if claimed in registry.codes else UNKNOWN_DEPARTMENT
    entity = payload.get(family.key_field)
    record_key = key if key is not None else entity if isinstance(entity, str) else None
    record = Record(
        input_topic(department, family.name),
        None if record_key is None else record_key.encode(),
        raw,
    )
    verdict = validator.validate(record, department, family, now)
    result: dict[str, Any] = {"department": department, "family": family.name}
    if isinstance(verdict, Rejection):
        return {
            **result,
            "valid": False,
            "reason": verdict.reason.value,
            "pointer": verdict.pointer,
            "message": verdict.message,
            "event_id": verdict.event_id,
        }
    return {**result, "valid": True, "event_id": verdict.id, "entity_id": verdict.entity_id}


def run_validate(args: argparse.Namespace) -> int:
    settings = HubSettings()
    registry = Registry.load(settings.schemas_dir)
    if args.department is not None and args.department not in registry.codes:
        print(
            f"error: --department {args.department!r} is not in the registry; "
            f"known: {', '.join(sorted(registry.codes))}",
            file=sys.stderr,
        )
        return 2
    validator = Validator.from_settings(registry, FAMILIES, settings)
    now = datetime.now(UTC)
    results = []
    try:
        for number, (where, raw) in enumerate(read_messages(args.paths, args.jsonl, sys.stdin)):
            message = raw if args.family is None else enveloped(raw, args.family, now, number)
            verdict = check_message(message, validator, registry, args.department, args.key, now)
            results.append(
                {"location": where, **(verdict if args.family is None else in_payload(verdict))}
            )
    except OSError as error:
        print(f"error: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    valid = sum(1 for r in results if r["valid"])
    if args.format == "json":
        summary = {"messages": results, "valid": valid, "invalid": len(results) - valid}
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for r in results:
            if r["valid"]:
                event = f" (event {r['event_id']})" if "event_id" in r else ""
                print(f"ok       {r['location']}: {r['family']} {r['entity_id']}{event}")
            else:
                # Messages start with the JSON pointer of what is wrong, where there is one.
                print(f"invalid  {r['location']}: {r['reason']}: {r['message']}")
        plural = "" if len(results) == 1 else "s"
        print(f"{len(results)} message{plural}: {valid} valid, {len(results) - valid} invalid")
    if not results:
        print("error: no messages found", file=sys.stderr)
        return 2
    return 0 if valid == len(results) else 1
