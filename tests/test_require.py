"""`require` against the real brokers: healthy ones pass, missing ones fail fast and clearly."""

import inspect
import logging
import subprocess
import sys
import time
from pathlib import Path

import pika
import pytest

from lab.brokers import BrokersUnavailable, native, rabbitmqctl, require, status
from lab.brokers.probes import probe
from lab.brokers.provision import restore_rabbitmq_watermark
from tests.conftest import USE_TESTCONTAINERS, free_port
from tests.impostor import impostor_server

# How long one probe of `require` may take: its timeout plus the 1.5 s TCP connect it allows.
PROBE_TIMEOUT_S = inspect.signature(require).parameters["timeout_s"].default + 1.5

VARS = {"kafka": "KAFKA_BOOTSTRAP_SERVERS", "rabbitmq": "RABBITMQ_URL", "redis": "REDIS_URL"}
URL_FOR_PORT = {
    "kafka": "localhost:{port}",
    "rabbitmq": "amqp://guest:guest@localhost:{port}/%2F",
    "redis": "redis://localhost:{port}/0",
}


def test_require_returns_the_endpoints_of_healthy_brokers(broker_endpoints):
    found = require("kafka", "rabbitmq", "redis")
    assert {b: ep.url for b, ep in found.items()} == {
        b: ep.url for b, ep in broker_endpoints.items()
    }


@pytest.mark.parametrize("broker", ["kafka", "rabbitmq", "redis"])
def test_a_broker_that_is_down_fails_within_5_s_naming_broker_endpoint_and_variable(
    broker_endpoints, monkeypatch, broker
):
    port = free_port()  # nothing listens there
    monkeypatch.setenv(VARS[broker], URL_FOR_PORT[broker].format(port=port))
    began = time.monotonic()
    with pytest.raises(BrokersUnavailable) as info:
        require("kafka", "rabbitmq", "redis")
    assert time.monotonic() - began < 5
    message = str(info.value)
    assert f"{broker} at localhost:{port}" in message
    assert "nothing is listening" in message and VARS[broker] in message
    others = set(VARS) - {broker}
    assert not any(f"- {other} at" in message for other in others), "healthy brokers were blamed"


@pytest.mark.parametrize("broker", ["kafka", "rabbitmq", "redis"])
def test_a_port_held_by_another_service_is_not_a_healthy_broker(monkeypatch, broker):
    with impostor_server() as port:
        monkeypatch.setenv(VARS[broker], URL_FOR_PORT[broker].format(port=port))
        began = time.monotonic()
        with pytest.raises(BrokersUnavailable, match=f"does not answer as {broker}"):
            require(broker)
        # One probe, not a retry loop: within three times the probe's own timeout.
        assert time.monotonic() - began < 3 * PROBE_TIMEOUT_S


def test_a_malformed_url_is_reported_with_its_variable(monkeypatch):
    monkeypatch.setenv("RABBITMQ_URL", "http://localhost:5672")
    with pytest.raises(BrokersUnavailable, match="RABBITMQ_URL='http://localhost:5672'"):
        require("rabbitmq")


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="stops the lab's own native Redis")
def test_a_stopped_default_broker_names_the_command_that_starts_it(broker_endpoints, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert native.stop("redis")
    try:
        with pytest.raises(BrokersUnavailable, match=r"make brokers-up"):
            require("redis")
    finally:
        native.start(broker_endpoints["redis"])
    assert require("redis")


def test_kafka_config_reaches_the_clients(monkeypatch, tmp_path, broker_endpoints):
    settings = tmp_path / "client.properties"
    settings.write_text("security.protocol=SSL\n")  # TLS against the lab's plaintext listener
    monkeypatch.setenv("KAFKA_CONFIG", str(settings))
    began = time.monotonic()
    with pytest.raises(BrokersUnavailable, match="kafka"):
        require("kafka")
    assert time.monotonic() - began < 3 * PROBE_TIMEOUT_S  # one probe, with a 3x margin
    monkeypatch.delenv("KAFKA_CONFIG")
    assert require("kafka")


# --- a RabbitMQ memory alarm left on: found, and cleared or explained ----------------------------

# A lesson that raises the alarm, says so, and waits inside it to be killed.
ALARM_HOLDER = """
import time
from lab.brokers import rabbitmq_memory_alarm
with rabbitmq_memory_alarm():
    print("on", flush=True)
    time.sleep(float(input()))
"""
ROOT = Path(__file__).resolve().parents[1]


def _hold_alarm() -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", ALARM_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=ROOT,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "on"
    return holder


def _publishes(ep) -> bool:
    """A publish with confirms is confirmed within 2 s (a blocked connection gives up then)."""
    params = pika.URLParameters(ep.url)
    params.blocked_connection_timeout = 2
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.confirm_delivery()
        channel.basic_publish("", queue, b"x")
        return True
    except pika.exceptions.AMQPError:
        return False
    finally:
        if connection.is_open:
            connection.close()


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="raises the alarm of the lab's own RabbitMQ")
def test_an_alarm_left_by_a_killed_lesson_is_cleared_by_require_and_publishers_unblock(
    broker_endpoints, caplog
):
    ep = broker_endpoints["rabbitmq"]
    holder = _hold_alarm()
    holder.kill()  # killed inside the alarm, as a kernel can be: nothing puts the watermark back
    holder.wait(timeout=10)
    try:
        assert probe(ep).alarms and not probe(ep).ok  # the health check sees it...
        assert not _publishes(ep)  # ...and it blocks publishers
        with caplog.at_level(logging.WARNING, logger="lab.brokers"):
            require("rabbitmq")
        assert "configured watermark (0.4) is restored" in caplog.text
        assert probe(ep).ok and _publishes(ep)
    finally:
        restore_rabbitmq_watermark()


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="raises the alarm of the lab's own RabbitMQ")
def test_status_also_clears_an_alarm_left_behind(broker_endpoints):
    holder = _hold_alarm()
    holder.kill()
    holder.wait(timeout=10)
    try:
        assert probe(broker_endpoints["rabbitmq"]).alarms
        (rabbit,) = status(("rabbitmq",))
        assert rabbit.healthy and not probe(broker_endpoints["rabbitmq"]).alarms
    finally:
        restore_rabbitmq_watermark()


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="raises the alarm of the lab's own RabbitMQ")
def test_an_alarm_a_running_lesson_holds_is_waited_out_not_overridden(broker_endpoints, caplog):
    holder = _hold_alarm()
    try:
        holder.stdin.write("1.5\n")  # the lesson ends its alarm by itself after 1.5 s
        holder.stdin.flush()
        with caplog.at_level(logging.WARNING, logger="lab.brokers"):
            require("rabbitmq")  # waits for the lesson, within its 15 s
        assert holder.wait(timeout=30) == 0  # the lesson itself put the watermark back
        assert "restored" not in caplog.text and probe(broker_endpoints["rabbitmq"]).ok
    finally:
        holder.kill()
        holder.wait(timeout=10)
        restore_rabbitmq_watermark()


@pytest.mark.skipif(USE_TESTCONTAINERS, reason="raises the alarm of the lab's own RabbitMQ")
def test_an_external_brokers_alarm_is_left_alone_and_explained(
    broker_endpoints, monkeypatch, tmp_path
):
    rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
    try:
        monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))  # now the lab did not start it
        with pytest.raises(BrokersUnavailable) as info:
            require("rabbitmq")
        message = str(info.value)
        assert "memory on" in message and "blocks every publishing connection" in message
        assert "rabbitmqctl set_vm_memory_high_watermark 0.4" in message
        assert probe(broker_endpoints["rabbitmq"]).alarms  # left alone
    finally:
        monkeypatch.delenv("LAB_STATE_DIR")
        restore_rabbitmq_watermark()
