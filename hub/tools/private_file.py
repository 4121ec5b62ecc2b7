"""Files that hold secrets: readable by their owner only."""

import os
from pathlib import Path


def write_private(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write data to path, which only its owner may read or write, also when it existed
    with other permissions. exclusive: fail with FileExistsError if path exists. A
    symbolic link is never followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
