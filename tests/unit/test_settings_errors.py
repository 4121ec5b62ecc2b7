"""Settings a person got wrong: the command line names the variable, the value given and
what is allowed, in a line or two, and exits 2, with no traceback."""

import subprocess
import sys

import pytest

from pelastus_hub import __version__
from pelastus_hub.cli import main
from pelastus_hub.settings import HubSettings

EXAMPLE = "schemas/envelope/examples/unit-status-structured.json"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "SNAPSHOT_INTERVAL_SECONDS",
            "abc",
            "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS='abc': Input should be a valid number",
        ),
        (
            "SNAPSHOT_INTERVAL_SECONDS",
            "-1",
            "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS='-1': Input should be greater than 0",
        ),
        (
            "KPI_TIME_ZONE",
            "Mars/Base",
            "PELASTUS_HUB_KPI_TIME_ZONE='Mars/Base': give a time zone of the IANA database",
        ),
        (
            "KPI_TARGET_SECONDS",
            '{"I": 360}',
            "PELASTUS_HUB_KPI_TARGET_SECONDS={'I': 360}: give a positive target for each of",
        ),
        (
            "SECURITY_PROTOCOL",
            "TLS",
            "PELASTUS_HUB_SECURITY_PROTOCOL='TLS': Input should be 'PLAINTEXT', 'SSL', "
            "'SASL_PLAINTEXT' or 'SASL_SSL'",
        ),
        (
            "SECURITY_PROTOCOL",
            "SASL_SSL",
            "PELASTUS_HUB_SECURITY_PROTOCOL=SASL_SSL needs PELASTUS_HUB_SASL_MECHANISM",
        ),
        ("LOG_LEVEL", "verbose", "PELASTUS_HUB_LOG_LEVEL='verbose': Input should be 'debug'"),
        (
            "API_TOKEN_FILE",
            "/no/such/token",
            "PELASTUS_HUB_API_TOKEN_FILE: cannot read /no/such/token: No such file or directory",
        ),
        ("METRICS_TOKEN", " ", "PELASTUS_HUB_METRICS_TOKEN: is empty"),
    ],
)
def test_a_bad_setting_is_named_in_a_line(monkeypatch, capsys, variable, value, said):
    monkeypatch.setenv(f"PELASTUS_HUB_{variable}", value)
    assert main(["validate", EXAMPLE]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: the settings cannot be used:"
    assert len(lines) == 2 and lines[1].startswith(said), lines


def test_a_secrets_value_is_never_shown(monkeypatch, capsys):
    monkeypatch.setenv("PELASTUS_HUB_SASL_PASSWORD", "   ")
    monkeypatch.setenv("PELASTUS_HUB_API_TOKEN", "\t")
    assert main(["validate", EXAMPLE]) == 2
    error = capsys.readouterr().err
    assert "PELASTUS_HUB_SASL_PASSWORD: is empty" in error and "'   '" not in error
    assert "PELASTUS_HUB_API_TOKEN: is empty" in error


def test_the_worker_with_a_bad_setting_exits_2_without_a_traceback():
    worker = subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", "worker"],
        env={"PELASTUS_HUB_BATCH_MAX_RECORDS": "many", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 2
    assert "Traceback" not in worker.stderr
    assert worker.stderr.splitlines() == [
        "error: the settings cannot be used:",
        "PELASTUS_HUB_BATCH_MAX_RECORDS='many': Input should be a valid integer, unable to "
        "parse string as an integer",
    ]


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"pelastus-hub {__version__}\n"


def test_worker_help_lists_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    shown = capsys.readouterr().out
    for name in HubSettings.model_fields:
        assert f"PELASTUS_HUB_{name.upper()} (default: " in shown
    assert "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS (default: 5.0)" in shown
    assert "PELASTUS_HUB_SASL_PASSWORD (default: unset)" in shown
