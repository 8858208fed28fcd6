"""Kafka, as the lab runs it natively: its jars (from Maven Central, or KAFKA_HOME), its one
command line for every Kafka of the lab (the single node, the cluster nodes, the secured broker),
the single node's configuration and the ports it binds. Templates: brokers/kafka/.
Not for starting or stopping it (see `native`) or for clients (see `config.kafka_client_settings`).
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from pathlib import Path

from . import install, maven, state
from .config import ENV_VARS, TEMPLATES_DIR, Endpoint, cache_dir
from .process import Launch, StartError, render, run_checked

POM = TEMPLATES_DIR / "kafka" / "pom.xml"
HEAP = "512m"


def version() -> str:
    """The Kafka release in use: from KAFKA_HOME's jars when set, else pinned in the pom."""
    if os.environ.get("KAFKA_HOME"):
        jars = sorted((Path(os.environ["KAFKA_HOME"]) / "libs").glob("kafka_2.13-*.jar"))
        for jar in jars:
            match = re.fullmatch(r"kafka_2\.13-([\d.]+)\.jar", jar.name)
            if match:
                return match.group(1)
    pinned = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if pinned is None:
        raise StartError(f"{POM} does not pin <kafka.version>: restore it from git")
    return pinned.group(1)


def lib_dir() -> Path:
    if os.environ.get("KAFKA_HOME"):
        libs = Path(os.environ["KAFKA_HOME"]) / "libs"
        if not libs.is_dir():
            raise StartError(
                f"KAFKA_HOME={os.environ['KAFKA_HOME']} has no libs/ folder; point it at an "
                "unpacked Kafka distribution, or unset it to fetch the jars from Maven Central."
            )
        return libs
    lib = cache_dir() / f"kafka-{version()}" / "lib"
    if not (lib / f"kafka_2.13-{version()}.jar").exists():
        _fetch_jars(lib)
    return lib


def _fetch_jars(lib: Path) -> None:
    announcement = f"[brokers] fetching Kafka {version()} jars from Maven Central (once)"
    maven.fetch_runtime_jars(POM, lib, announcement, what="the Kafka jars", error=StartError)


def cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes, without padding. Like Kafka's
    # Uuid.randomUuid(), draw again when it starts with "-": kafka-storage reads that as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def java() -> str:
    """The java that runs Kafka: installed where missing, refused with the fix where too old."""
    java = install.ensure("java")
    if install.java_major_version(java) < 17:
        raise StartError(
            f"Kafka {version()} needs Java 17 or newer; {java} is older. "
            f"Install one with: {install.install_command('java')} (or set JAVA_HOME)."
        )
    return java


def command(config: Path, tmp: Path, heap: str = HEAP) -> list[str]:
    """The one command line of every Kafka broker the lab runs (single node, cluster node,
    secured): the same JVM flags, its own heap, configuration and scratch folder."""
    return [
        java(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Djava.io.tmpdir={tmp}",  # zstd/snappy unpack here
        f"-Dlog4j2.configurationFile={TEMPLATES_DIR / 'kafka' / 'log4j2.properties'}",
        "-cp",
        f"{lib_dir()}/*",
        "kafka.Kafka",
        str(config),
    ]


def launch(ep: Endpoint) -> Launch:
    """Render the single node's configuration, format its log directory once, and say how to
    start it."""
    program = java()
    home = state.broker_dir("kafka")
    data, tmp = home / "data", home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    render(
        "kafka/server.properties.template",
        config,
        port=ep.port,
        controller_port=ep.port + 1,
        data_dir=data,
    )
    classpath = f"{lib_dir()}/*"
    if not (data / "meta.properties").exists():
        run_checked(
            [
                program,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id(),
                "-c",
                str(config),
            ],
            "formatting the Kafka log directory",
        )
    return Launch(command(config, tmp), dict(os.environ), ready_timeout_s=120)


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the single node binds, with what it is for."""
    return {
        ep.port: f"kafka clients ({ENV_VARS['kafka']})",
        ep.port + 1: "the KRaft controller listener",
    }
