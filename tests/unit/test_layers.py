"""The package's layers (README, "Design"): each module imports only its own layer and the
ones before it, and the pure layers no Kafka client at all."""

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
# In order: a layer may import the ones before it. The package's __init__ is the public
# surface over all of them.
LAYERS = (
    "settings",
    "clients",
    "contract",
    "state",
    "families",
    "pipeline",
    "picture",
    "runtime",
    "client",
    "tools",
    "cli",
    "__init__",
)
PURE = ("contract", "state", "families", "pipeline")
KAFKA = ("aiokafka", "confluent_kafka", "faust", "mode")


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def layer_of(path: Path) -> str:
    return path.relative_to(HUB).with_suffix("").parts[0]


MODULES = sorted(HUB.rglob("*.py"))


def test_every_module_is_in_a_layer() -> None:
    assert MODULES
    assert {layer_of(path) for path in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HUB)))
def test_a_module_imports_no_later_layer(path: Path) -> None:
    mine = LAYERS.index(layer_of(path))
    later = [
        name
        for name in imports(path)
        if name.startswith("pelastus_hub.")
        and LAYERS.index(name.split(".")[1] if name.count(".") > 1 else "__init__") > mine
    ]
    assert later == []


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if layer_of(p) in PURE],
    ids=lambda p: str(p.relative_to(HUB)),
)
def test_the_pure_layers_import_no_kafka_client(path: Path) -> None:
    assert [name for name in imports(path) if name.split(".")[0] in KAFKA] == []
