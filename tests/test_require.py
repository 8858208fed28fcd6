"""`require` against the real brokers: healthy ones pass, missing ones fail fast and clearly."""

import inspect
import time

import pytest

from helpers.brokers import BrokersUnavailable, native, require
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
