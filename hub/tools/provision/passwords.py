"""Users' passwords: one file per user in a folder of secrets, readable by its owner only.

A password is made the first time its user is created and never printed; the file is
what the operator hands over. A file already there (say, a password the department
chose) is used as it is.
"""

import secrets
from collections.abc import Callable
from pathlib import Path

from pelastus_hub.settings import read_secret
from pelastus_hub.tools.private_file import write_private


class Passwords:
    def __init__(self, folder: Path, progress: Callable[[str], None]) -> None:
        self.folder, self.progress = folder, progress

    def path(self, user: str) -> Path:
        return self.folder / f"{user}.password"

    def password(self, user: str) -> bytes:
        path = self.path(user)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = secrets.token_urlsafe(24).encode()
        try:  # exclusive: a file there, or made meanwhile by another run, is the password
            write_private(path, made, exclusive=True)
        except FileExistsError:
            return read_secret(path).encode()
        self.progress(f"provision: a new password for {user} in {path}")
        return made
