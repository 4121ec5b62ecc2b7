"""The worker's log formats; aiokafka's settling errors logged as info, and its errors while no
broker answers as debug; the root logger left at the worker's level."""

import json
import logging
import sys

import pytest

from pelastus_hub.cli.hub_commands import faust_worker
from pelastus_hub.runtime.app import create_app
from pelastus_hub.runtime.logs import JsonFormatter, Settling, quiet_settling
from pelastus_hub.settings import HubSettings


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


@pytest.mark.parametrize("level", ["warning", "error"])
def test_the_worker_leaves_the_root_logger_at_its_level(level: str) -> None:
    """Faust's start-up spinner would lower it to DEBUG at these levels, so that every debug
    record of aiokafka's were made."""
    settings = HubSettings(log_level=level)
    app, _ = create_app(settings)
    worker = faust_worker(app, settings)
    root = logging.Logger("stand-in root")  # as mode hands Faust the configured root
    root.addHandler(logging.NullHandler())
    root.setLevel(level.upper())
    worker.on_setup_root_logger(root, root.level)
    assert root.level == logging.getLevelName(level.upper())
    assert not root.isEnabledFor(logging.DEBUG)
