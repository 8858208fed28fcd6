"""Kafka Connect 4.3.2 (brokers/connect/pom.xml says why not 4.4.0) in standalone mode with
Debezium 3.6.1.Final's PostgreSQL connector on its classpath, run by the lab on 127.0.0.1:18083
(its REST API) against the lab's Kafka. Jars from Maven Central, fetched once into the lab's
cache; source offsets in a file under .brokers/kafka-connect/.

Standalone mode keeps no connector across a restart: whoever created one creates it again with
the same name, and it resumes from the offsets in the file. Not for creating connectors (see
helpers.cdc.connect)."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from .. import install, maven, state
from ..config import TEMPLATES_DIR, cache_dir, endpoint
from ..process import Launch, StartError, render
from . import Service, probing

PORT = 18083
URL = f"http://127.0.0.1:{PORT}"
POM = TEMPLATES_DIR / "connect" / "pom.xml"
OFFSET_FLUSH_MS = 5000  # Kafka Connect's default is 60000; a lesson waits seconds, not minutes


def _pinned(name: str) -> str:
    found = re.search(rf"<{name}>([^<]+)</{name}>", POM.read_text())
    if found is None:
        raise StartError(f"{POM} does not pin <{name}>: restore it from git")
    return found.group(1)


def lib_dir() -> Path:
    return (
        cache_dir() / f"connect-{_pinned('connect.version')}-debezium-{_pinned('debezium.version')}"
    )


def offsets_file() -> Path:
    """Where the worker keeps its source connectors' offsets (a Debezium connector's LSN)."""
    return state.broker_dir("kafka-connect") / "connect.offsets"


def log_file() -> Path:
    """The worker's log (Debezium's connector logs into it too)."""
    return state.log_file("kafka-connect")


def _install() -> None:
    lib = lib_dir()
    if any(lib.glob("connect-runtime-*.jar")) and any(lib.glob("debezium-connector-postgres-*")):
        return
    announcement = (
        f"[services] fetching Kafka Connect {_pinned('connect.version')} and Debezium "
        f"{_pinned('debezium.version')} jars from Maven Central (once)"
    )
    maven.fetch_runtime_jars(
        POM, lib, announcement, what="the Kafka Connect and Debezium jars", error=StartError
    )


def _launch() -> Launch:
    home = state.broker_dir("kafka-connect")
    config = home / "worker.properties"
    render(
        "connect/worker.properties.template",
        config,
        bootstrap=endpoint("kafka").url,
        port=PORT,
        offsets=offsets_file(),
        flush_ms=OFFSET_FLUSH_MS,
    )
    command = [
        install.ensure("java"),
        "-Xms128m",
        "-Xmx512m",
        "-XX:TieredStopAtLevel=1",  # starts in seconds on a small machine; a lab's load is light
        "-XX:+UseSerialGC",
        f"-Dlog4j2.configurationFile={TEMPLATES_DIR / 'connect' / 'log4j2.properties'}",
        "-cp",
        f"{lib_dir()}/*",
        "org.apache.kafka.connect.cli.ConnectStandalone",
        str(config),
    ]
    return Launch(command, dict(os.environ), ready_timeout_s=90)


def _ready() -> str | None:
    try:
        plugins = probing.get_json(f"{URL}/connector-plugins")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{URL}/connector-plugins does not answer yet ({exc})"
    if not any("PostgresConnector" in plugin.get("class", "") for plugin in plugins):
        return "the worker answers but lists no Debezium PostgreSQL connector"
    return None


def _version() -> str:
    return str(probing.get_json(f"{URL}/")["version"])


SERVICE = Service(
    name="kafka-connect",
    ports={PORT: "Kafka Connect's REST API (connectors, their status and offsets)"},
    memory_mb=350,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
)
