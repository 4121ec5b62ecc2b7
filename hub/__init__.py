"""pelastus-hub: the event exchange between Finland's rescue departments.

What a department's system needs is here: `Publisher` builds, checks and sends events,
`Validator` checks records as the hub does, and `Reason` and `WarningCode` are the codes
its dead letters and feedback carry. The Publisher (and so Kafka's client) is imported
only when asked for, so that the contract alone never loads a Kafka client.
"""

# Imported under private names: every public name here is in __all__.
import importlib.metadata as _metadata
import typing as _typing

from pelastus_hub.contract.reasons import Reason, WarningCode
from pelastus_hub.contract.records import Record, Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator

if _typing.TYPE_CHECKING:
    from pelastus_hub.client.publisher import ConnectFailed, InvalidEvent, Publisher, PublishError

try:
    __version__ = _metadata.version("pelastus-hub")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConnectFailed",
    "InvalidEvent",
    "PublishError",
    "Publisher",
    "Reason",
    "Record",
    "Registry",
    "Rejection",
    "ValidEvent",
    "Validator",
    "WarningCode",
    "__version__",
]

_CLIENT = frozenset({"ConnectFailed", "InvalidEvent", "PublishError", "Publisher"})


def __getattr__(name: str) -> _typing.Any:
    if name in _CLIENT:
        from pelastus_hub.client import publisher

        return getattr(publisher, name)
    raise AttributeError(f"module 'pelastus_hub' has no attribute {name!r}")
