"""The worker's logs: as JSON, one object a line, for a log pipeline
(PELASTUS_HUB_LOG_FORMAT=json); and aiokafka's errors for what it retries by itself
while a cluster or group settles, logged as info, so that a normal start logs no error."""

import logging
from datetime import UTC, datetime
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger and message; exception, with its traceback,
    where the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


# Errors aiokafka logs and then retries by itself: a group's coordinator still loading,
# a partition's leader still being elected.
SETTLING = (
    "GroupCoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
    "NotLeaderForPartitionError",
    "LeaderNotAvailableError",
)
AIOKAFKA_LOGGERS = (
    "aiokafka.client",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)


class Settling(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and any(e in record.getMessage() for e in SETTLING):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_settling() -> None:
    """Log aiokafka's settling errors as info (once per process)."""
    for name in AIOKAFKA_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Settling) for f in logger.filters):
            logger.addFilter(Settling())


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig sending every log record at level or above to standard output as JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "default": {
                # Also here: a settling error logged as info passed its logger as an error.
                "level": level.upper(),
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
