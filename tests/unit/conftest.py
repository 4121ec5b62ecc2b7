"""Unit tests see none of the PELASTUS_HUB_* variables of the shell that runs them: settings
come from what a test gives."""

import os

import pytest


@pytest.fixture(autouse=True)
def no_hub_environment(monkeypatch):
    for name in [n for n in os.environ if n.startswith("PELASTUS_HUB_")]:
        monkeypatch.delenv(name)
