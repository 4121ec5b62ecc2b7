"""pelastus-hub: the event exchange between Finland's rescue departments.

What a department's system needs is here: `Publisher` builds, checks and sends events,
`Validator` checks records as the hub does, and `Reason` and `WarningCode` are the codes
its dead letters and feedback carry. The Publisher (and so Kafka's client) is imported
only when asked for, so that the contract alone never loads a Kafka client.
"""

# Imported under private names: every public name here is in __all__.
import importlib as _importlib
import importlib.metadata as _metadata
import typing as _typing

from pelastus_hub.contract.reasons import Reason, WarningCode
from pelastus_hub.contract.records import Record, Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator

if _typing.TYPE_CHECKING:
    from pelastus_hub.client.publisher import InvalidEvent, Publisher, PublishError
    from pelastus_hub.clients import ConnectFailed

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

# Where each lazily imported name lives.
_CLIENT = {
    "ConnectFailed": "pelastus_hub.clients",
    "InvalidEvent": "pelastus_hub.client.publisher",
    "PublishError": "pelastus_hub.client.publisher",
    "Publisher": "pelastus_hub.client.publisher",
}


def __getattr__(name: str) -> _typing.Any:
    if name in _CLIENT:
        return getattr(_importlib.import_module(_CLIENT[name]), name)
    raise AttributeError(f"module 'pelastus_hub' has no attribute {name!r}")
