"""Endpoint settings: defaults, environment overrides, and malformed values named clearly."""

import pytest

from helpers.brokers import BrokerConfigError, endpoint


@pytest.fixture(autouse=True)
def no_endpoint_overrides(monkeypatch):
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "RABBITMQ_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)


def test_defaults_are_the_local_brokers():
    assert endpoint("kafka").address == "localhost:9092"
    assert endpoint("rabbitmq").address == "localhost:5672"
    assert endpoint("redis").address == "localhost:6379"
    assert {endpoint(b).source for b in ("kafka", "rabbitmq", "redis")} == {"default"}


def test_environment_variables_override_the_defaults(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:29092,broker-b:29092")
    monkeypatch.setenv("RABBITMQ_URL", "amqps://u:p@mq.example:5671/vh")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6380/2")
    kafka, rabbit, redis_ep = endpoint("kafka"), endpoint("rabbitmq"), endpoint("redis")
    assert (kafka.host, kafka.port, kafka.url) == (
        "broker-a",
        29092,
        "broker-a:29092,broker-b:29092",
    )
    assert (rabbit.host, rabbit.port, rabbit.source) == ("mq.example", 5671, "RABBITMQ_URL")
    assert (redis_ep.host, redis_ep.port) == ("cache", 6380)
    assert not kafka.is_local


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost"),
        ("KAFKA_BOOTSTRAP_SERVERS", "PLAINTEXT://localhost:9092"),
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost:99999"),
        ("RABBITMQ_URL", "http://localhost:5672/"),
        ("RABBITMQ_URL", "amqp://guest:guest@localhost:notaport/"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_URL", "redis://"),
    ],
)
def test_malformed_values_name_the_variable_and_show_an_example(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    broker = {"KAFKA_BOOTSTRAP_SERVERS": "kafka", "RABBITMQ_URL": "rabbitmq", "REDIS_URL": "redis"}
    with pytest.raises(BrokerConfigError) as info:
        endpoint(broker[var])
    message = str(info.value)
    assert var in message and repr(value) in message and "Example:" in message
