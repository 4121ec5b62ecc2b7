"""The message families the hub carries: each module here that defines FAMILY is one.

A family is its models, key and time fields, store kind, changelog codec and part of
the national picture, all in its module (pelastus_hub.families.base.Family). A fourth
family is one more module here, plus its schemas under schemas/.
"""

import importlib
import pkgutil

from pelastus_hub.families.base import Family


def _discover() -> dict[str, Family]:
    found = {}
    for module in pkgutil.iter_modules(__path__):
        family = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FAMILY", None)
        if family is not None:
            found[family.name] = family
    return dict(sorted(found.items()))


FAMILIES: dict[str, Family] = _discover()
