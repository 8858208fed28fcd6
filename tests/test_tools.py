"""The brokers' own command-line tools in bin/, each run against the lab's running brokers.

Every check reads the tool's real output: the topic it created, the messages it read back, the
lag it reports, the queue and stream lengths the brokers hold.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pika
import pytest
import redis

from helpers.naming import unique_name
from lab.brokers import state, tools
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bin"
TOOL_TIMEOUT_S = 120  # a JVM per Kafka command; a busy 2-core machine takes seconds each


def tool(name: str, *args: str, stdin: str | None = None, **env: str):
    """Run bin/<name> ARGS as a user would; returns the finished process."""
    return subprocess.run(
        [str(BIN / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        env={**os.environ, **env},
        cwd=ROOT / "notebooks",  # anywhere in the checkout works
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


@pytest.fixture
def topic(kafka_ep):
    """A one-partition topic created with bin/kafka-topics, deleted with it afterwards."""
    name = unique_name("tools")
    out = ok(tool("kafka-topics", "--create", "--topic", name, "--partitions", "1"))
    assert f"Created topic {name}." in out
    yield name
    ok(tool("kafka-topics", "--delete", "--topic", name))


def test_kafka_topics_creates_describes_and_deletes_a_topic(kafka_ep):
    name = unique_name("tools")
    ok(tool("kafka-topics", "--create", "--topic", name, "--partitions", "3"))
    described = ok(tool("kafka-topics", "--describe", "--topic", name))
    assert re.search(rf"Topic: {re.escape(name)}\s+TopicId: \S+\s+PartitionCount: 3", described)
    ok(tool("kafka-topics", "--delete", "--topic", name))
    deadline = time.monotonic() + 30
    while name in ok(tool("kafka-topics", "--list")).split() and time.monotonic() < deadline:
        time.sleep(1)  # deletion completes in the background
    assert name not in ok(tool("kafka-topics", "--list")).split()


def test_console_producer_and_consumer_round_trip_and_the_group_lag(topic):
    group = unique_name("tools-group")
    ok(tool("kafka-console-producer", "--topic", topic, stdin="one\ntwo\nthree\n"))
    read = tool(
        "kafka-console-consumer",
        *("--topic", topic, "--group", group, "--from-beginning"),
        *("--max-messages", "3", "--timeout-ms", "60000"),
    )
    assert ok(read).splitlines() == ["one", "two", "three"], "stdout is the messages, nothing else"
    assert "Processed a total of 3 messages" in read.stderr

    ok(tool("kafka-console-producer", "--topic", topic, stdin="four\nfive\n"))
    described = ok(tool("kafka-consumer-groups", "--describe", "--group", group))
    header, row = _group_row(described, topic)
    assert row[header.index("CURRENT-OFFSET")] == "3"
    assert row[header.index("LOG-END-OFFSET")] == "5"
    assert row[header.index("LAG")] == "2", described
    ok(tool("kafka-consumer-groups", "--delete", "--group", group))


def _group_row(described: str, topic: str) -> tuple[list[str], list[str]]:
    lines = [line.split() for line in described.splitlines() if line.strip()]
    header = next(line for line in lines if "LAG" in line)
    row = next(line for line in lines if len(line) > 1 and line[1] == topic)
    return header, row


def test_a_kafka_config_the_java_tools_share_is_passed_to_them(kafka_ep, tmp_path, topic):
    config = tmp_path / "client.properties"
    config.write_text(
        "# the same in librdkafka and Java\nsecurity.protocol=PLAINTEXT\nclient.id=lab\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFKA_CONFIG", str(config))
        argv = tools.command("kafka-topics", ["--list"]).argv
        assert argv[-3:] == ["--command-config", str(config), "--list"]
        mine = ["--list", "--command-config", "mine.properties"]
        assert tools.command("kafka-topics", mine).argv.count("--command-config") == 1
    assert topic in ok(tool("kafka-topics", "--list", KAFKA_CONFIG=str(config))).split()


def test_a_librdkafka_only_kafka_config_is_refused_without_showing_secrets(kafka_ep, tmp_path):
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\nsasl.username=me\nsasl.password=s3cret-value\n")
    done = tool("kafka-topics", "--list", KAFKA_CONFIG=str(config))
    assert done.returncode == 2
    assert "sasl.password, sasl.username" in done.stderr and "KAFKA_TOOLS_CONFIG" in done.stderr
    assert "s3cret-value" not in done.stderr + done.stdout


def test_kafka_tools_fail_at_once_with_the_cause_and_the_fix(kafka_ep, tmp_path):
    port = free_port()
    began = time.monotonic()
    down = tool("kafka-topics", "--list", KAFKA_BOOTSTRAP_SERVERS=f"localhost:{port}")
    assert down.returncode == 2 and time.monotonic() - began < 30
    assert f"nothing is listening on localhost:{port} (from KAFKA_BOOTSTRAP_SERVERS)" in down.stderr
    assert "make brokers-up" in down.stderr

    no_jars = tool("kafka-topics", "--list", KAFKA_HOME=str(tmp_path))
    assert no_jars.returncode == 2
    assert f"KAFKA_HOME={tmp_path} has no libs/ folder" in no_jars.stderr

    # Without Java (not on PATH, no JAVA_HOME): the module the wrappers run, called directly.
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    no_java = subprocess.run(
        [sys.executable, "-m", "lab.brokers.tools", "kafka-topics", "--list"],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        env={**env, "PATH": str(tmp_path)},
        cwd=ROOT,
    )
    assert no_java.returncode == 2
    assert "java is not installed" in no_java.stderr and "apt-get install" in no_java.stderr


@pytest.fixture
def native_rabbitmq(rabbitmq_ep):
    if state.running_pid("rabbitmq") is None:
        pytest.skip(
            "rabbitmqctl and rabbitmq-diagnostics manage the lab's native RabbitMQ node, and "
            f"RabbitMQ here is not one (no live pid under {state.broker_dir('rabbitmq')})"
        )
    return rabbitmq_ep


def test_rabbitmq_diagnostics_pings_the_labs_node(native_rabbitmq):
    assert "Ping succeeded" in ok(tool("rabbitmq-diagnostics", "ping"))


def test_rabbitmqctl_lists_a_queue_with_its_messages(native_rabbitmq):
    queue = unique_name("tools")
    connection = pika.BlockingConnection(pika.URLParameters(native_rabbitmq.url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.confirm_delivery()  # each publish returns once the queue holds the message
        for body in (b"a", b"b"):
            channel.basic_publish("", queue, body)
        listed = ok(tool("rabbitmqctl", "list_queues", "name", "messages"))
        assert re.search(rf"^{re.escape(queue)}\s+2$", listed, re.M), listed
    finally:
        connection.channel().queue_delete(queue)
        connection.close()


def test_redis_cli_pings_and_reads_a_stream_length(redis_ep):
    assert ok(tool("redis-cli", "PING")).strip() == "PONG"
    stream = unique_name("tools")
    client = redis.Redis.from_url(redis_ep.url)
    try:
        for n in range(3):
            client.xadd(stream, {"n": n})
        assert ok(tool("redis-cli", "XLEN", stream)).strip() == "3"
    finally:
        client.delete(stream)
        client.close()


def test_every_tool_in_bin_is_a_short_strict_shell_script():
    scripts = [p for p in BIN.iterdir() if p.is_file()]
    assert {p.name for p in scripts} >= {
        "kafka-topics",
        "kafka-console-producer",
        "kafka-console-consumer",
        "kafka-consumer-groups",
        "rabbitmqctl",
        "rabbitmq-diagnostics",
        "redis-cli",
    }
    for script in scripts:
        text = script.read_text()
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        assert text.startswith("#!/usr/bin/env bash\n#") and "set -euo pipefail" in text
