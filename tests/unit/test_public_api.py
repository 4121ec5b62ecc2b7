"""What `import pelastus_hub` offers a department's system, and what it costs to import."""

import json
import subprocess
import sys
import types

import pelastus_hub


def test_all_names_exactly_the_public_names() -> None:
    # Resolved first: the lazy ones' import may add attributes too.
    assert [name for name in pelastus_hub.__all__ if not hasattr(pelastus_hub, name)] == []
    public = {
        name
        for name, value in vars(pelastus_hub).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(pelastus_hub.__all__)
    assert len(pelastus_hub.__all__) == len(set(pelastus_hub.__all__))


def test_version_is_a_string() -> None:
    assert isinstance(pelastus_hub.__version__, str) and pelastus_hub.__version__


def test_the_contract_loads_no_kafka_client_and_the_publisher_loads_it_when_asked_for() -> None:
    # A fresh interpreter: this one has long imported aiokafka for other tests.
    program = """
import json, sys
import pelastus_hub, pelastus_hub.contract.validator
before = [m for m in sys.modules if m.split(".")[0] == "aiokafka"]
publisher = pelastus_hub.Publisher
print(json.dumps({
    "before": before,
    "publisher": f"{publisher.__module__}.{publisher.__qualname__}",
    "after": "aiokafka" in sys.modules,
}))
"""
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "before": [],
        "publisher": "pelastus_hub.client.publisher.Publisher",
        "after": True,
    }
