"""Apicurio Registry 2.1.5.Final, a schema registry with a Confluent-compatible REST API, run by
the lab on 127.0.0.1:18081 with its in-memory storage (its own, inside the process: it uses no
Kafka topic and touches no other lesson; its schemas are gone when it stops).

Maven Central publishes the registry as a Quarkus application's classes, not a runnable jar, so
the first start builds one from brokers/apicurio-registry/ (`mvn package`: a few minutes and
about 100 MB of jars, once per build recipe) into the lab's cache, shared by every checkout: the
build folder is named after a hash of that recipe, so a changed pom.xml gets a new build rather
than an old one that looks complete.
Not for talking to it (see helpers.schemas)."""

from __future__ import annotations

import hashlib
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


RECIPE = ("pom.xml", "application.properties")  # what brokers/apicurio-registry/ gives the build


def recipe_hash() -> str:
    """A short hash of the build recipe's files: it changes whenever one of them does."""
    digest = hashlib.sha256()
    for name in RECIPE:
        digest.update(name.encode() + b"\0")
        digest.update((TEMPLATES_DIR / "apicurio-registry" / name).read_bytes())
    return digest.hexdigest()[:12]


def build_dir() -> Path:
    return cache_dir() / f"apicurio-registry-{VERSION}-{recipe_hash()}"


def runner_jar() -> Path:
    return build_dir() / "target" / "lab-apicurio-registry-1-runner.jar"


def _install() -> None:
    """Build the runnable registry once per recipe; a second call finds it and returns at once.
    Builds of other recipes are deleted, but only while no registry answers on the port (a
    running one may still load classes from its build)."""
    if _ready() is not None:
        _remove_stale_builds()
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
    recipe = TEMPLATES_DIR / "apicurio-registry"
    shutil.copy(recipe / "pom.xml", scratch / "pom.xml")
    shutil.copy(recipe / "application.properties", resources)
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


def _remove_stale_builds() -> None:
    """Delete the builds of other recipes of this version (and the unhashed one older labs made);
    scratch folders of interrupted builds start with a dot and are left to their own build."""
    keep = build_dir()
    for old in cache_dir().glob(f"apicurio-registry-{VERSION}*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


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
