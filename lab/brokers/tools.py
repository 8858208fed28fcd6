"""The brokers' own command-line tools, pointed at the lab's brokers.

`bin/<tool> ARGS...` runs `python -m lab.brokers.tools <tool> ARGS...`, which adds the lab's
address unless ARGS name one, and then *becomes* the real program (exec), so its output, exit
code and Ctrl-C are the tool's own:

- Kafka's `kafka-topics`, `kafka-console-producer`, `kafka-console-consumer` and
  `kafka-consumer-groups`, run from the same jars as the lab's broker, with `--bootstrap-server`
  set to KAFKA_BOOTSTRAP_SERVERS (or localhost:9092);
- `rabbitmqctl` and `rabbitmq-diagnostics` for the lab's own RabbitMQ node (its node name and
  Erlang cookie);
- `redis-cli` for REDIS_URL, its password handed over in REDISCLI_AUTH, never on the command line.

Not for the notebooks, which use the Python clients.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from . import install, kafka_broker, native, rabbitmq_broker, state
from .config import (
    KAFKA_CONFIG_VAR,
    TEMPLATES_DIR,
    BrokerConfigError,
    LabError,
    endpoint,
    kafka_client_settings,
)
from .probes import port_is_open

KAFKA_TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
}
RABBITMQ_TOOLS = ("rabbitmqctl", "rabbitmq-diagnostics")
TOOLS = (*KAFKA_TOOLS, *RABBITMQ_TOOLS, "redis-cli")

# A short-lived client JVM: the quick-starting compiler and the simplest collector save about
# a second per command on a small machine.
KAFKA_TOOL_JVM = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
KAFKA_TOOL_LOG4J = TEMPLATES_DIR / "kafka" / "tools-log4j2.properties"

# KAFKA_CONFIG holds librdkafka properties. Only these mean the same to Kafka's Java tools;
# credentials and certificates do not (sasl.username vs sasl.jaas.config, ssl.ca.location vs
# ssl.truststore.location), so such a file needs a Java twin: KAFKA_TOOLS_CONFIG.
SAME_IN_JAVA = {"security.protocol", "sasl.mechanism", "client.id"}
KAFKA_TOOLS_CONFIG_VAR = "KAFKA_TOOLS_CONFIG"
CONFIG_OPTIONS = ("--command-config", "--consumer.config", "--producer.config")


class ToolError(LabError):
    """A tool cannot run here; the message names the cause and the fix."""


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]


def command(tool: str, args: list[str]) -> Command:
    """The program, arguments and environment that run `tool` against the lab's broker."""
    if tool in KAFKA_TOOLS:
        return _kafka(tool, args)
    if tool in RABBITMQ_TOOLS:
        return _rabbitmq(tool, args)
    if tool == "redis-cli":
        return _redis(args)
    raise ToolError(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}")


def _given(args: list[str], *options: str) -> bool:
    """True if the user already passed one of `options` (as `--opt value` or `--opt=value`)."""
    return any(arg in options or arg.split("=", 1)[0] in options for arg in args)


# --- Kafka -------------------------------------------------------------------------------


def _kafka(tool: str, args: list[str]) -> Command:
    java = _java()
    lib = _kafka_jars()
    extra = []
    if not _given(args, "--bootstrap-server"):
        ep = endpoint("kafka")
        asks_for_help = _given(args, "--help", "--version")
        # Without a broker the tools would retry for a minute, or forever.
        if not asks_for_help and not port_is_open(ep.host, ep.port):
            fix = ": start the lab's brokers with `make brokers-up`"
            if ep.source != "default":
                fix = f" (from {ep.source}): check it, or unset it and run `make brokers-up`"
            raise ToolError(f"nothing is listening on {ep.address}{fix}.")
        extra += ["--bootstrap-server", ep.url]
    config = None if _given(args, *CONFIG_OPTIONS) else _kafka_tools_config()
    if config:
        extra += ["--command-config", config]
    jvm = [*KAFKA_TOOL_JVM, f"-Dlog4j2.configurationFile={KAFKA_TOOL_LOG4J}"]
    argv = [java, *jvm, "-cp", f"{lib}/*", KAFKA_TOOLS[tool], *extra, *args]
    return Command(argv, dict(os.environ))


def _java() -> str:
    java = install.find("java")
    if not java:
        raise ToolError(
            "java is not installed, and Kafka's command-line tools are Java programs. "
            f"Install Java 17 or newer: {install.install_command('java')} (or set JAVA_HOME)."
        )
    if install.java_major_version(java) < 17:
        raise ToolError(
            f"Kafka's command-line tools need Java 17 or newer; {java} is older. "
            f"Install one: {install.install_command('java')} (or set JAVA_HOME)."
        )
    return java


def _kafka_jars() -> Path:
    # The broker's own jar folder (fetched from Maven Central once, or KAFKA_HOME/libs); a
    # first fetch reports on stderr so that stdout stays the tool's output.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return kafka_broker.lib_dir()
    except (native.BrokerStartError, install.MissingProgram) as exc:
        raise ToolError(f"Kafka's command-line tools need the Kafka jars: {exc}") from None


def _kafka_tools_config() -> str | None:
    """The properties file for --command-config: KAFKA_TOOLS_CONFIG, else KAFKA_CONFIG when
    every key in it means the same to Java, else None."""
    java_file = os.environ.get(KAFKA_TOOLS_CONFIG_VAR, "").strip()
    if java_file:
        if not Path(java_file).expanduser().is_file():
            raise ToolError(
                f"{KAFKA_TOOLS_CONFIG_VAR}={java_file!r} is not a file: point it at a Java "
                "client properties file, or unset it."
            )
        return str(Path(java_file).expanduser())
    settings = kafka_client_settings()  # validates the file; values are never shown
    if not settings:
        return None
    foreign = sorted(set(settings) - SAME_IN_JAVA)
    if foreign:
        raise ToolError(
            f"{KAFKA_CONFIG_VAR} sets librdkafka properties that Kafka's Java tools spell "
            f"differently or lack ({', '.join(foreign)}). Write the Java client properties "
            "(e.g. sasl.jaas.config=..., ssl.truststore.location=...) to a file of their own "
            f"and set {KAFKA_TOOLS_CONFIG_VAR}=/path/to/it, or pass --command-config FILE."
        )
    return str(Path(os.environ[KAFKA_CONFIG_VAR].strip()).expanduser())


# --- RabbitMQ ----------------------------------------------------------------------------


def _rabbitmq(tool: str, args: list[str]) -> Command:
    ep = endpoint("rabbitmq")
    home = state.broker_dir("rabbitmq")
    if state.running_pid("rabbitmq") is None:
        raise ToolError(
            f"{tool} manages the lab's own RabbitMQ node, and none is running from {home}. "
            "Start it with `make brokers-up`. For a RabbitMQ the lab did not start, run "
            f"{tool} where that broker runs (with Docker: docker compose exec rabbitmq {tool})."
        )
    started_for = state.recorded_address("rabbitmq")
    if started_for not in (None, ep.address):
        raise ToolError(
            f"the lab's RabbitMQ serves {started_for}, but RABBITMQ_URL points at {ep.address}: "
            "unset RABBITMQ_URL, or pass -n NODE."
        )
    node = [] if _given(args, "-n", "--node") else ["-n", rabbitmq_broker.node_name(ep)]
    try:
        script = rabbitmq_broker.script(tool)
    except rabbitmq_broker.CtlError as exc:
        raise ToolError(str(exc)) from None
    return Command([script, *node, *args], rabbitmq_broker.ctl_env(home))


# --- Redis -------------------------------------------------------------------------------


def _redis(args: list[str]) -> Command:
    program = shutil.which("redis-cli")
    if not program:
        raise ToolError(
            "redis-cli is not installed; it comes with Redis: "
            f"{install.install_command('redis-server')}"
        )
    if _given(args, "-u", "-h", "-p", "-s"):
        return Command([program, *args], dict(os.environ))
    url, user, password = _without_credentials(endpoint("redis").url)
    env = dict(os.environ)
    if password:
        # Read by redis-cli itself: the password stays out of `ps` and out of its warnings.
        env["REDISCLI_AUTH"] = password
    user_args = ["--user", user] if user else []
    return Command([program, "-u", url, *user_args, *args], env)


def _without_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return urlunsplit(parts._replace(netloc=host)), user, password


# --- entry point -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in TOOLS:
        print(f"usage: bin/TOOL ARGS...  where TOOL is one of {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    tool, args = argv[0], argv[1:]
    try:
        run = command(tool, args)
    except (ToolError, BrokerConfigError) as exc:
        print(f"{tool}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    os.execve(run.argv[0], run.argv, run.env)


if __name__ == "__main__":
    sys.exit(main())
