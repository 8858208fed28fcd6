"""Kafka, as the lab runs it natively: its jars (from Maven Central, or KAFKA_HOME), its one
command line for every Kafka of the lab (the single node, the cluster nodes, the secured broker),
the single node's configuration and the ports it binds (with the Prometheus JMX exporter's
agent, which serves its broker metrics on 127.0.0.1:19404); the variable that sets its endpoint, how
that is parsed, the client settings of KAFKA_CONFIG, and its protocol probe. Templates:
brokers/kafka/. Not for starting or stopping it (see `native`).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from . import install, maven, state
from .base import TEMPLATES_DIR, BrokerConfigError, Endpoint, bad_setting, cache_dir
from .process import Launch, StartError, render, run_checked

ENV_VAR = "KAFKA_BOOTSTRAP_SERVERS"
DEFAULT_URL = "localhost:9092"
POM = TEMPLATES_DIR / "kafka" / "pom.xml"
HEAP = "512m"
# The Prometheus JMX exporter's Java agent in the single node: its port (loopback only) and rules.
METRICS_PORT = 19404
METRICS_RULES = TEMPLATES_DIR / "kafka" / "jmx-exporter.yml"


def parse(value: str, var: str) -> tuple[str, int]:
    """Host and port of the first of the bootstrap servers `value` (set by `var`)."""
    first = value.split(",")[0].strip()
    if "://" in first:
        raise bad_setting(var, value, "bootstrap servers are host:port, no scheme", DEFAULT_URL)
    match = re.fullmatch(r"\[?([A-Za-z0-9_.\-:]+?)\]?:(\d{1,5})", first)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise bad_setting(var, value, "expected host:port[,host:port...]", DEFAULT_URL)
    return match.group(1), int(match.group(2))


def probe(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    """A metadata exchange (and, when `deep`, a topic created and deleted); the Kafka protocol
    does not report the broker's release, so None. Raises if the broker does not answer."""
    admin = AdminClient(
        {
            "bootstrap.servers": ep.url,
            **kafka_client_settings(),
            "socket.timeout.ms": int(timeout_s * 1000),
            # A probe of a wrong port should say one sentence, not log a page of retries.
            "log_level": 0,
        }
    )
    metadata = admin.list_topics(timeout=timeout_s)
    if not metadata.brokers:
        raise KafkaException(f"metadata from {ep.address} lists no broker")
    if deep:
        name = f"_lab_ready_{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=timeout_s)[name].result(
            timeout=timeout_s * 3
        )
        admin.delete_topics([name], operation_timeout=timeout_s)[name].result(timeout=timeout_s * 3)
    return None


# --- Kafka client settings beyond the bootstrap servers --------------------------------------

KAFKA_CONFIG_VAR = "KAFKA_CONFIG"


def kafka_client_settings() -> dict[str, str]:
    """librdkafka properties from the file KAFKA_CONFIG names (`key=value` lines, `#` comments),
    e.g. `security.protocol`, `sasl.*`, `ssl.*` for a managed cluster; {} when it is unset.

    The values may be secrets: they are passed to clients, never printed.
    """
    path = os.environ.get(KAFKA_CONFIG_VAR, "").strip()
    if not path:
        return {}
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except OSError as exc:
        raise BrokerConfigError(
            f"{KAFKA_CONFIG_VAR}={path!r} cannot be read ({exc.strerror}): point it at a file of "
            "librdkafka properties such as 'security.protocol=SASL_SSL', or unset it."
        ) from None
    settings = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BrokerConfigError(
                f"{KAFKA_CONFIG_VAR} file {path}, line {number}: expected key=value "
                "(e.g. security.protocol=SASL_SSL)"
            )
        settings[key.strip()] = value.strip()
    if "bootstrap.servers" in settings:
        raise BrokerConfigError(
            f"{KAFKA_CONFIG_VAR} file {path} sets bootstrap.servers: set it with "
            "KAFKA_BOOTSTRAP_SERVERS instead, so every tool agrees on one address."
        )
    return settings


def _pinned(property_name: str) -> str:
    pinned = re.search(rf"<{property_name}>([^<]+)</{property_name}>", POM.read_text())
    if pinned is None:
        raise StartError(f"{POM} does not pin <{property_name}>: restore it from git")
    return pinned.group(1)


def version() -> str:
    """The Kafka release in use: from KAFKA_HOME's jars when set, else pinned in the pom."""
    if os.environ.get("KAFKA_HOME"):
        jars = sorted((Path(os.environ["KAFKA_HOME"]) / "libs").glob("kafka_2.13-*.jar"))
        for jar in jars:
            match = re.fullmatch(r"kafka_2\.13-([\d.]+)\.jar", jar.name)
            if match:
                return match.group(1)
    return _pinned("kafka.version")


def _agent_jar_name() -> str:
    return f"jmx_prometheus_javaagent-{_pinned('jmx.exporter.version')}.jar"


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
    elif not (lib / _agent_jar_name()).exists():
        _add_metrics_agent(lib)
    return lib


def _fetch_jars(lib: Path) -> None:
    announcement = f"[brokers] fetching Kafka {version()} jars from Maven Central (once)"
    maven.fetch_runtime_jars(POM, lib, announcement, what="the Kafka jars", error=StartError)


def _add_metrics_agent(lib: Path) -> None:
    """A cache filled before the pom had the metrics agent: fetch the pom's jars beside it and
    add the agent only, so the jars a running broker reads are never replaced under it."""
    fetched = Path(tempfile.mkdtemp(dir=lib.parent, prefix=".agent-"))
    try:
        announcement = "[brokers] fetching the Prometheus JMX exporter agent from Maven Central"
        maven.fetch_runtime_jars(
            POM, fetched, announcement, what="the JMX exporter agent", error=StartError
        )
        part = lib / f".{_agent_jar_name()}.part"
        shutil.copyfile(fetched / _agent_jar_name(), part)
        part.rename(lib / _agent_jar_name())
    finally:
        shutil.rmtree(fetched, ignore_errors=True)


def metrics_agent() -> Path | None:
    """The JMX exporter agent's jar, fetched with the Kafka jars; None for a KAFKA_HOME
    distribution, which does not ship it (that broker runs without the agent)."""
    if os.environ.get("KAFKA_HOME"):
        return None
    return lib_dir() / _agent_jar_name()


def metrics_port(ep: Endpoint) -> int | None:
    """The agent's port for the single node at `ep`: METRICS_PORT at the default address; None
    (no agent) for a Kafka moved to another port, so two of them never want one port."""
    return METRICS_PORT if ep.port == parse(DEFAULT_URL, ENV_VAR)[1] else None


def metrics_agent_serving(port: int | None = None, timeout_s: float = 2.0) -> bool:
    """Whether the JMX exporter agent of a Kafka broker answers on 127.0.0.1:`port` (default
    METRICS_PORT): its /metrics has the broker's replica-manager gauge (anything else on the
    port does not)."""
    try:
        url = f"http://127.0.0.1:{port or METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return b"kafka_server_replicamanager_value" in response.read()
    except (urllib.error.URLError, OSError):
        return False


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


def command(
    config: Path, tmp: Path, heap: str = HEAP, metrics_port: int | None = None
) -> list[str]:
    """The one command line of every Kafka broker the lab runs (single node, cluster node,
    secured): the same JVM flags, its own heap, configuration and scratch folder; with
    `metrics_port`, the JMX exporter agent serving its metrics on 127.0.0.1:`metrics_port`."""
    agent = metrics_agent() if metrics_port is not None else None
    return [
        java(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Djava.io.tmpdir={tmp}",  # zstd/snappy unpack here
        f"-Dlog4j2.configurationFile={TEMPLATES_DIR / 'kafka' / 'log4j2.properties'}",
        # The agent's host:port: without the host it would listen on every interface.
        *([f"-javaagent:{agent}=127.0.0.1:{metrics_port}:{METRICS_RULES}"] if agent else []),
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
    return Launch(
        command(config, tmp, metrics_port=metrics_port(ep)), dict(os.environ), ready_timeout_s=120
    )


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the single node binds, with what it is for."""
    ports = {ep.port: f"kafka clients ({ENV_VAR})", ep.port + 1: "the KRaft controller listener"}
    agent = metrics_port(ep)
    if agent is not None:
        ports[agent] = "its metrics for Prometheus (the JMX exporter agent)"
    return ports
