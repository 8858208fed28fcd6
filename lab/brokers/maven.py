"""Fetching the jars a pom needs at runtime from Maven Central into a cache folder: the native
Kafka broker's, and RabbitMQ PerfTest's. Not for running them (see `native`, `bench.native.java`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from . import install

COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"


def fetch_runtime_jars(
    pom: Path, lib: Path, announcement: str, *, what: str, error: type[Exception]
) -> None:
    """Copy `pom`'s runtime dependencies into `lib`, replacing what was there.

    `announcement` is printed once Maven is found: a first fetch takes a while. A failed fetch
    raises `error` (the caller's own kind) naming `what` could not be fetched, with the tail of
    Maven's output.
    """
    mvn = install.ensure("mvn")
    print(announcement, flush=True)
    lib.parent.mkdir(parents=True, exist_ok=True)
    # Into a scratch folder first, renamed at the end: an interrupted fetch never looks complete.
    scratch = Path(tempfile.mkdtemp(dir=lib.parent, prefix=".lib-"))
    done = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            COPY_DEPENDENCIES,
            "-DincludeScope=runtime",
            f"-DoutputDirectory={scratch}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise error(
            f"Maven could not fetch {what} (is Maven Central reachable?):\n"
            f"{(done.stdout + done.stderr)[-1500:]}"
        )
    shutil.rmtree(lib, ignore_errors=True)
    scratch.rename(lib)
