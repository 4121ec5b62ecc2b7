"""The worker's log formats, and aiokafka's settling errors logged as info."""

import json
import logging
import sys

from pelastus_hub.runtime.logs import JsonFormatter, Settling


def record(level: int, message: str, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.client", level, __file__, 1, message, (), exc_info)


def test_a_json_line_has_time_level_logger_and_message():
    line = json.loads(JsonFormatter().format(record(logging.WARNING, 'a "quoted"\nline')))
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "warning" and line["logger"] == "aiokafka.client"
    assert line["message"] == 'a "quoted"\nline' and line["time"].endswith("+00:00")


def test_an_exception_comes_with_its_traceback_in_the_same_line():
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        text = JsonFormatter().format(record(logging.ERROR, "failed", sys.exc_info()))
    assert "\n" not in text
    assert "RuntimeError: broken" in json.loads(text)["exception"]


def test_errors_aiokafka_retries_by_itself_are_info_and_others_stay_errors():
    settling = record(
        logging.ERROR,
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError",
    )
    assert Settling().filter(settling) and settling.levelname == "INFO"
    real = record(logging.ERROR, "Unable connect to 127.0.0.1:9092: SaslAuthenticationFailed")
    assert Settling().filter(real) and real.levelname == "ERROR"
