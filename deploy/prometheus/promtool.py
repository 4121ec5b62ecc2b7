#!/usr/bin/env python3
"""Run promtool, Prometheus's checker of rules and metrics, pinned: the one in Debian 12's
prometheus package (2.42.0+ds-5+deb12u1, amd64). The package is fetched once into
$PELASTUS_HUB_CACHE_DIR (~/.cache/pelastus-hub), checked against its SHA-256, and only
promtool is taken out of it; nothing is installed. PROMTOOL=/path/to/promtool uses that
one instead.

    python deploy/prometheus/promtool.py test rules deploy/prometheus/alerts.test.yml
"""

import hashlib
import io
import lzma
import os
import platform
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import NoReturn

VERSION = "2.42.0+ds-5+deb12u1"
URL = (
    "http://deb.debian.org/debian/pool/main/p/prometheus/"
    "prometheus_2.42.0%2bds-5%2bdeb12u1_amd64.deb"
)
SHA256 = "81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
MEMBER = "./usr/bin/promtool"


def fail(message: str) -> NoReturn:
    print(f"promtool: {message}", file=sys.stderr)
    sys.exit(2)


def ar_member(archive: bytes, prefix: str) -> tuple[str, bytes]:
    """The first member of a Debian package (an ar archive) whose name starts with prefix."""
    if not archive.startswith(b"!<arch>\n"):
        fail("the download is no Debian package")
    at = 8
    while at + 60 <= len(archive):
        header = archive[at : at + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58])
        if name.startswith(prefix):
            return name, archive[at + 60 : at + 60 + size]
        at += 60 + size + size % 2  # members are aligned to even offsets
    fail(f"the package has no {prefix}* member")


def fetch(target: Path) -> None:
    print(f"promtool: fetching Debian's prometheus {VERSION} (19 MB), once", file=sys.stderr)
    try:
        with urllib.request.urlopen(URL, timeout=120) as response:
            package = response.read()
    except OSError as error:
        fail(f"cannot fetch {URL}: {error}")
    digest = hashlib.sha256(package).hexdigest()
    if digest != SHA256:
        fail(f"{URL} has SHA-256 {digest}, not the pinned {SHA256}")
    name, data = ar_member(package, "data.tar")
    if not name.endswith(".xz"):
        fail(f"unexpected {name} in the package")
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(data))) as tar:
        extracted = tar.extractfile(MEMBER)
        if extracted is None:
            fail(f"the package has no {MEMBER}")
        binary = extracted.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a run cut short leaves no half a binary in the cache.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
        out.write(binary)
    os.chmod(out.name, 0o755)
    os.replace(out.name, target)


def promtool() -> str:
    chosen = os.environ.get("PROMTOOL")
    if chosen:
        return chosen
    if platform.machine() not in ("x86_64", "AMD64"):
        fail(f"no pinned promtool for {platform.machine()}: set PROMTOOL to a promtool 2.42+")
    cache = Path(os.environ.get("PELASTUS_HUB_CACHE_DIR") or "~/.cache/pelastus-hub")
    target = cache.expanduser() / f"promtool-{VERSION}" / "promtool"
    if not target.exists():
        fetch(target)
    return str(target)


if __name__ == "__main__":
    tool = promtool()
    os.execv(tool, [tool, *sys.argv[1:]])
