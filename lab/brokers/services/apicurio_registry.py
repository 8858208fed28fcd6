"""Apicurio Registry 2.1.5.Final, a schema registry with a Confluent-compatible REST API, run by
the lab on 127.0.0.1:18081 with its in-memory storage (its own, inside the process: it uses no
Kafka topic and touches no other lesson; its schemas are gone when it stops).

Maven Central publishes the registry as a Quarkus application's classes, not a runnable jar, so
the first start builds one from brokers/apicurio-registry/ (`mvn package`: a few minutes and
about 100 MB of jars, once) into the lab's cache, shared by every checkout.
Not for talking to it (see helpers.schemas)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import install
from ..config import TEMPLATES_DIR, cache_dir
from ..process import Launch, StartError
from . import Service, probing

VERSION = "2.1.5.Final"
PORT = 18081
URL = f"http://127.0.0.1:{PORT}"
CCOMPAT = f"{URL}/apis/ccompat/v6"  # the Confluent Schema Registry API
BUILD_TIMEOUT_S = 1200.0


def build_dir() -> Path:
    return cache_dir() / f"apicurio-registry-{VERSION}"


def runner_jar() -> Path:
    return build_dir() / "target" / "lab-apicurio-registry-1-runner.jar"


def _install() -> None:
    """Build the runnable registry once; a second call finds it and returns at once."""
    if runner_jar().is_file():
        return
    mvn = install.ensure("mvn")
    print(
        f"[services] building Apicurio Registry {VERSION} from Maven Central (once, a few minutes)",
        flush=True,
    )
    build_dir().parent.mkdir(parents=True, exist_ok=True)
    # In a scratch folder, renamed at the end: an interrupted build never looks complete.
    scratch = Path(tempfile.mkdtemp(dir=build_dir().parent, prefix=".apicurio-"))
    resources = scratch / "src" / "main" / "resources"
    resources.mkdir(parents=True)
    shutil.copy(TEMPLATES_DIR / "apicurio-registry" / "pom.xml", scratch / "pom.xml")
    shutil.copy(TEMPLATES_DIR / "apicurio-registry" / "application.properties", resources)
    try:
        done = subprocess.run(
            [mvn, "-q", "-B", "package", "-DskipTests"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise StartError(
            f"building Apicurio Registry took over {BUILD_TIMEOUT_S:.0f} s; check that Maven "
            "Central is reachable and run it again"
        ) from exc
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise StartError(
            "building Apicurio Registry with Maven failed (is Maven Central reachable?):\n"
            f"{(done.stdout + done.stderr)[-1500:]}"
        )
    shutil.rmtree(build_dir(), ignore_errors=True)
    scratch.rename(build_dir())


def _launch() -> Launch:
    java = install.ensure("java")
    env = {**os.environ, "HTTP_PORT": str(PORT)}
    command = [
        java,
        "-Xmx256m",
        "-Dquarkus.http.host=127.0.0.1",
        "-jar",
        str(runner_jar()),
    ]
    return Launch(command, env, ready_timeout_s=90)


def _ready() -> str | None:
    return probing.answers(f"{CCOMPAT}/subjects")


def _version() -> str:
    return str(probing.get_json(f"{URL}/apis/registry/v2/system/info")["version"])


SERVICE = Service(
    name="apicurio-registry",
    ports={PORT: "Apicurio Registry's REST APIs (Confluent-compatible under /apis/ccompat/v6)"},
    memory_mb=220,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
)
