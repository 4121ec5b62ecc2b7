"""The worker's logs: as JSON, one object a line, for a log pipeline
(PELASTUS_HUB_LOG_FORMAT=json); aiokafka's errors for what it retries by itself
while a cluster or group settles, logged as info, so that a normal start logs no error;
and its errors at every retry while no broker answers, left to the worker's own line."""

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
    "aiokafka",  # the client's: connections and metadata
    "aiokafka.client",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)


# aiokafka's errors while nothing answers at a broker's address, again at every retry. The
# worker says so itself, once, when the broker stops answering (or never did) and when it
# answers again (pelastus_hub.runtime.broker_watch): these are debug.
AWAY = ("Connect call failed", "Unable to update metadata from")


class Settling(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR:
            return True
        message = record.getMessage()
        if any(e in message for e in SETTLING):
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif any(e in message for e in AWAY):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # The logger let it pass as an error: pass it on only where debug is wanted.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
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
