"""Run Kafka, RabbitMQ and Redis as local processes, without Docker.

State lives under `.brokers/<broker>/`: rendered config, data, one pid file and one log.
`start` is idempotent; `stop` and `kill` only ever signal the process that `start` recorded
(same pid *and* start time). Every listener binds to the loopback interface only.
Not for deciding *whether* to run natively (see `provision`).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from . import install, maven, state
from .config import ENV_VARS, TEMPLATES_DIR, Endpoint, LabError, cache_dir, too_old
from .probes import port_is_open, probe
from .process import Launch, StartError, render, run_checked, signal_and_wait, spawn

KAFKA_POM = TEMPLATES_DIR / "kafka" / "pom.xml"
KAFKA_HEAP = "512m"
STOP_TIMEOUT_S = 30.0


BrokerStartError = StartError  # the name the brokers' callers know


# --- Kafka -------------------------------------------------------------------------------


def kafka_version() -> str:
    """The Kafka release in use: from KAFKA_HOME's jars when set, else pinned in the pom."""
    if os.environ.get("KAFKA_HOME"):
        jars = sorted((Path(os.environ["KAFKA_HOME"]) / "libs").glob("kafka_2.13-*.jar"))
        for jar in jars:
            match = re.fullmatch(r"kafka_2\.13-([\d.]+)\.jar", jar.name)
            if match:
                return match.group(1)
    pinned = re.search(r"<kafka.version>([^<]+)</kafka.version>", KAFKA_POM.read_text())
    if pinned is None:
        raise BrokerStartError(f"{KAFKA_POM} does not pin <kafka.version>: restore it from git")
    return pinned.group(1)


def kafka_lib_dir() -> Path:
    if os.environ.get("KAFKA_HOME"):
        libs = Path(os.environ["KAFKA_HOME"]) / "libs"
        if not libs.is_dir():
            raise BrokerStartError(
                f"KAFKA_HOME={os.environ['KAFKA_HOME']} has no libs/ folder; point it at an "
                "unpacked Kafka distribution, or unset it to fetch the jars from Maven Central."
            )
        return libs
    lib = cache_dir() / f"kafka-{kafka_version()}" / "lib"
    if not (lib / f"kafka_2.13-{kafka_version()}.jar").exists():
        _fetch_kafka_jars(lib)
    return lib


def _fetch_kafka_jars(lib: Path) -> None:
    announcement = f"[brokers] fetching Kafka {kafka_version()} jars from Maven Central (once)"
    maven.fetch_runtime_jars(
        KAFKA_POM, lib, announcement, what="the Kafka jars", error=BrokerStartError
    )


def kafka_cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes, without padding. Like Kafka's
    # Uuid.randomUuid(), draw again when it starts with "-": kafka-storage reads that as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_java() -> str:
    """The java that runs Kafka: installed where missing, refused with the fix where too old."""
    java = install.ensure("java")
    if install.java_major_version(java) < 17:
        raise BrokerStartError(
            f"Kafka {kafka_version()} needs Java 17 or newer; {java} is older. "
            f"Install one with: {install.install_command('java')} (or set JAVA_HOME)."
        )
    return java


def kafka_command(config: Path, tmp: Path, heap: str = KAFKA_HEAP) -> list[str]:
    """The one command line of every Kafka broker the lab runs (single node, cluster node,
    secured): the same JVM flags, its own heap, configuration and scratch folder."""
    return [
        kafka_java(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Djava.io.tmpdir={tmp}",  # zstd/snappy unpack here
        f"-Dlog4j2.configurationFile={TEMPLATES_DIR / 'kafka' / 'log4j2.properties'}",
        "-cp",
        f"{kafka_lib_dir()}/*",
        "kafka.Kafka",
        str(config),
    ]


def _kafka_launch(ep: Endpoint) -> Launch:
    java = kafka_java()
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
    classpath = f"{kafka_lib_dir()}/*"
    if not (data / "meta.properties").exists():
        run_checked(
            [
                java,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                kafka_cluster_id(),
                "-c",
                str(config),
            ],
            "formatting the Kafka log directory",
        )
    return Launch(kafka_command(config, tmp), dict(os.environ), ready_timeout_s=120)


# --- RabbitMQ ----------------------------------------------------------------------------


def rabbitmq_management_port() -> int:
    return int(os.environ.get("RABBITMQ_MANAGEMENT_PORT", "15672"))


def _rabbitmq_launch(ep: Endpoint) -> Launch:
    server = install.ensure("rabbitmq-server")
    home = state.broker_dir("rabbitmq")
    config = home / "rabbitmq.conf"
    render(
        "rabbitmq/rabbitmq.conf.template",
        config,
        port=ep.port,
        management_port=rabbitmq_management_port(),
    )
    # Writing the plugins file is exactly what `rabbitmq-plugins --offline enable` does.
    shutil.copyfile(TEMPLATES_DIR / "rabbitmq" / "enabled_plugins", home / "enabled_plugins")
    # So the system-wide /etc/rabbitmq/rabbitmq-env.conf is not read.
    (home / "rabbitmq-env.conf").touch()
    env = rabbitmq_env(home, rabbitmq_node_name(ep), ep.port, config)
    return Launch([server], env, ready_timeout_s=90)


def rabbitmq_node_name(ep: Endpoint) -> str:
    return f"lab-rabbit-{ep.port}@localhost"


def rabbitmq_env(home: Path, node_name: str, port: int, config: Path) -> dict[str, str]:
    """The environment of a RabbitMQ node that keeps everything under `home` (its
    rabbitmq-env.conf and enabled_plugins included) and listens on `port` and 20000 above it
    (Erlang distribution), on loopback only."""
    (home / "home").mkdir(parents=True, exist_ok=True)  # Erlang will not create it
    return {
        **os.environ,
        "HOME": str(home / "home"),  # the Erlang cookie is created and read here
        "RABBITMQ_NODENAME": node_name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(port + 20000),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(home / "beam.pid"),
        # Loopback only: the port mapper and the inter-node (distribution) listener too.
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


class RabbitMQCtlError(LabError):
    """rabbitmqctl failed on a node of the lab; the message is rabbitmqctl's own."""


def rabbitmq_script(tool: str) -> str:
    """rabbitmqctl, rabbitmq-diagnostics, ...: beside the rabbitmq-server the lab runs (Debian's
    /usr/sbin wrappers would switch to the rabbitmq user, who cannot read the lab's cookie)."""
    server = install.find("rabbitmq-server")
    script = Path(server).with_name(tool) if server else None
    if script and os.access(script, os.X_OK):
        return str(script)
    found = shutil.which(tool)
    if found:
        return found
    raise RabbitMQCtlError(
        f"{tool} is not installed; it comes with RabbitMQ: "
        f"{install.install_command('rabbitmq-server')}"
    )


def rabbitmqctl_env(home: Path) -> dict[str, str]:
    """The environment a CLI tool needs for the node whose state is under `home`: its Erlang
    cookie (HOME) and its own env file and plugins, not the system-wide ones."""
    return {
        **os.environ,
        "HOME": str(home / "home"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
    }


def run_rabbitmqctl(
    node: str, home: Path, args: list[str], *, stdin: str | None = None, timeout_s: float = 60
) -> str:
    """The one way the lab runs `rabbitmqctl -n NODE ARGS` on a node it started (the single
    node, a cluster node, the secured node): its output, or RabbitMQCtlError with rabbitmqctl's
    own message. The cookie comes from `home`, never from the command line."""
    command = [rabbitmq_script("rabbitmqctl"), "-n", node, *args]
    done = subprocess.run(
        command,
        input=stdin,
        env=rabbitmqctl_env(home),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise RabbitMQCtlError(f"rabbitmqctl {' '.join(args)} on {node}: {done.stderr.strip()}")
    return done.stdout


# --- Redis -------------------------------------------------------------------------------


def _redis_launch(ep: Endpoint) -> Launch:
    server = install.ensure("redis-server")
    _check_version("redis", server, ["--version"], r"v=([\d.]+)")
    home = state.broker_dir("redis")
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = home / "redis.conf"
    render("redis/redis.conf.template", config, port=ep.port, data_dir=data)
    return Launch([server, str(config)], dict(os.environ), ready_timeout_s=30)


# --- common ------------------------------------------------------------------------------


def _check_version(broker: str, program: str, args: list[str], pattern: str) -> None:
    out = subprocess.run([program, *args], capture_output=True, text=True, timeout=30).stdout
    match = re.search(pattern, out)
    reason = too_old(broker, match.group(1) if match else None)
    if reason:
        fix = install.install_command(f"{broker}-server")
        raise BrokerStartError(
            f"{program}: {reason}. Install a newer one ({fix} on a current Debian/Ubuntu), "
            f"or point the lab at one with {ENV_VARS[broker]}."
        )


_LAUNCHERS = {"kafka": _kafka_launch, "rabbitmq": _rabbitmq_launch, "redis": _redis_launch}


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the broker will bind, with what it is for."""
    extra = {
        "kafka": {ep.port + 1: "the KRaft controller listener"},
        "rabbitmq": {
            ep.port + 20000: "Erlang distribution",
            rabbitmq_management_port(): "the management UI (RABBITMQ_MANAGEMENT_PORT)",
        },
        "redis": {},
    }[ep.broker]
    return {ep.port: f"{ep.broker} clients ({ENV_VARS[ep.broker]})", **extra}


def check_ports_free(ep: Endpoint, grace_s: float = 3.0) -> None:
    """Refuse to start over someone else's listener. A broker killed a moment ago may still hold
    its ports while the kernel tears it down, so each port gets `grace_s` to become free."""
    deadline = time.monotonic() + grace_s
    for port, purpose in ports(ep).items():
        while port_is_open("127.0.0.1", port, timeout_s=0.5) and time.monotonic() < deadline:
            time.sleep(0.1)
        if port_is_open("127.0.0.1", port, timeout_s=0.5):
            raise BrokerStartError(
                f"cannot start {ep.broker}: port {port} ({purpose}) is already taken by "
                f"{state.who_listens(port)}, which is not a {ep.broker} broker this lab started. "
                f"Stop that process, or point {ENV_VARS[ep.broker]} at another local port "
                "(e.g. the default port + 100)."
            )


def start(ep: Endpoint, name: str | None = None) -> tuple[int, float]:
    """Start the broker for `ep` unless ours already runs; wait until it is really ready.

    Returns (pid, seconds until healthy). A broker that does not become ready in time is
    stopped again, so a failed start leaves nothing running that nobody tracks.
    """
    name = name or ep.broker
    began = time.monotonic()
    pid = state.running_pid(name)
    if pid is not None:
        _wait_ready(ep, name, pid, began + 120.0)  # ours, perhaps still booting
        return pid, time.monotonic() - began
    check_ports_free(ep)
    launch = _LAUNCHERS[ep.broker](ep)
    pid = spawn(name, launch)
    state.address_file(name).write_text(f"{ep.address}\n")
    try:
        _wait_ready(ep, name, pid, began + launch.ready_timeout_s)
    except BaseException:
        signal_and_wait(name, signal.SIGTERM, 10.0)
        raise
    return pid, time.monotonic() - began


def _wait_ready(ep: Endpoint, name: str, pid: int, deadline: float) -> None:
    while True:
        if state.running_pid(name) != pid:
            raise BrokerStartError(
                f"{name} (pid {pid}) exited while starting. Last lines of "
                f"{state.log_file(name)}:\n{state.log_tail(name)}"
            )
        health = probe(ep, timeout_s=3.0, deep=True)  # our own broker: a write round trip is fine
        if health.ok:
            return
        if health.speaks:  # it answers, but cannot serve the lessons (too old): waiting won't help
            raise BrokerStartError(f"{name} (pid {pid}): {health.detail}")
        if time.monotonic() > deadline:
            raise BrokerStartError(
                f"{name} (pid {pid}) did not become ready in time: {health.detail}. "
                f"Last lines of {state.log_file(name)}:\n{state.log_tail(name)}"
            )
        time.sleep(0.5)


def stop(name: str, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop our broker gracefully (SIGTERM, then SIGKILL after `timeout_s`). True if it ran."""
    return signal_and_wait(name, signal.SIGTERM, timeout_s)


def kill(name: str) -> bool:
    """SIGKILL our broker: a crash, for the reliability lessons. True if it ran."""
    return signal_and_wait(name, signal.SIGKILL, 10.0)
