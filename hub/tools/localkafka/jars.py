"""The broker's jars: the Kafka version deploy/kafka/pom.xml pins, resolved once with Maven."""

import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from subprocess import PIPE, STDOUT

from pelastus_hub.tools import REPO_ROOT

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
# Written last into the jar folder, so an interrupted resolution is never reused.
COMPLETE_MARKER = ".resolution-complete"
# Maven also fetches poms and its own plugins; a line per jar is progress enough.
_DOWNLOADED_JAR = re.compile(r"Downloaded from [^:]+: \S+/([^/\s]+\.jar) ")


class LocalKafkaError(RuntimeError):
    pass


def kafka_version() -> str:
    """The broker's version, as deploy/kafka/pom.xml pins it."""
    try:
        pom = POM.read_text()
    except FileNotFoundError:
        raise LocalKafkaError(
            f"{POM} not found: the local broker runs from a checkout of the pelastus-hub repository"
        ) from None
    return re.search(r"<kafka\.version>\s*([^<\s]+)", pom)[1]


def ensure_jars(cache_dir: Path, progress: Callable[[str], None]) -> Path:
    """Return the folder holding the broker's jars, resolving them with Maven if needed."""
    version = kafka_version()
    lib = cache_dir / f"kafka-{version}" / "lib"
    if (lib / COMPLETE_MARKER).is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven (mvn) is needed once to fetch the Kafka jars: install it "
            "(Debian/Ubuntu package: maven) and put mvn on PATH"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="lib-partial-", dir=lib.parent))
    try:
        progress(f"kafka jars: resolving Kafka {version} with Maven into {lib}")
        command = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies"]
        command += [f"-DoutputDirectory={partial}", "-DincludeScope=runtime"]
        tail: deque[str] = deque(maxlen=30)
        downloaded = 0
        with subprocess.Popen(command, stdout=PIPE, stderr=STDOUT, text=True) as mvn_process:
            for line in mvn_process.stdout:
                tail.append(line.rstrip())
                if match := _DOWNLOADED_JAR.search(line):
                    downloaded += 1
                    progress(f"kafka jars: {downloaded} downloaded ({match[1]})")
        if mvn_process.returncode != 0:
            output = "\n".join(tail)
            raise LocalKafkaError(f"mvn failed to resolve the Kafka jars; it ended with:\n{output}")
        (partial / COMPLETE_MARKER).write_text(f"kafka {version}\n")
        if not (lib / COMPLETE_MARKER).is_file():  # else a parallel run finished first
            partial.rename(lib)
        progress(f"kafka jars: ready ({downloaded} jars downloaded)")
        return lib
    finally:
        shutil.rmtree(partial, ignore_errors=True)
