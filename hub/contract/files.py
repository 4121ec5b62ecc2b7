"""Where the contract's files are: inside the installed package, or in the repository."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def schemas_dir() -> Path:
    """schemas/: package data in an installed wheel; in a checkout (an editable install maps
    no data folder) the repository's own, beside the package's source."""
    installed = PACKAGE / "schemas"
    return installed if installed.is_dir() else PACKAGE.parent / "schemas"
