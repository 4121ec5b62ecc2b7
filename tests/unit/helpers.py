"""Building blocks for unit tests: input records and events without a broker."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.ingest import Record

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def event(**data_changes: Any) -> dict[str, Any]:
    """The envelope example, with changes to its data."""
    document = json.loads(
        (SCHEMAS / "envelope" / "examples" / "unit-status-structured.json").read_text()
    )
    document["data"].update(data_changes)
    return document


def record(document: Any, key: bytes | None = b"RPI487", department: str = "pirkanmaa") -> Record:
    value = document if isinstance(document, bytes | None) else json.dumps(document).encode()
    return Record(f"dept.{department}.unit-status", key, value)
