"""The worker's log formats; aiokafka's settling errors logged as info, and its errors while no
broker answers as debug."""

import json
import logging
import sys

from pelastus_hub.runtime.logs import JsonFormatter, Settling, quiet_settling


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


def test_no_broker_at_an_address_is_debug_the_worker_says_so_itself():
    away = record(
        logging.ERROR,
        "Unable connect to \"127.0.0.1:9\": [Errno 111] Connect call failed ('127.0.0.1', 9)",
    )
    logging.getLogger("aiokafka.client").setLevel(logging.INFO)
    try:
        assert not Settling().filter(away) and away.levelname == "DEBUG"
        logging.getLogger("aiokafka.client").setLevel(logging.DEBUG)
        assert Settling().filter(away)  # wanted where debug is
    finally:
        logging.getLogger("aiokafka.client").setLevel(logging.NOTSET)


def test_aiokafka_s_client_logger_is_quieted_too():
    quiet_settling()
    assert any(isinstance(f, Settling) for f in logging.getLogger("aiokafka").filters)
