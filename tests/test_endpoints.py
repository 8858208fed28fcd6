"""Endpoint settings: defaults, environment overrides, and malformed values named clearly."""

import pytest

from lab.brokers import (
    BrokerConfigError,
    endpoint,
    kafka_config,
    status_table,
)
from lab.brokers.config import mask_password


@pytest.fixture(autouse=True)
def no_endpoint_overrides(monkeypatch):
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "RABBITMQ_URL", "REDIS_URL", "KAFKA_CONFIG"):
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
    assert var in message and repr(mask_password(value)) in message and "Example:" in message


def test_passwords_are_masked_wherever_an_endpoint_is_shown(monkeypatch):
    monkeypatch.setenv("RABBITMQ_URL", "amqp://lab:s3cret-pw@localhost:1/%2F")
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret-pw@localhost:1/0")
    for broker in ("rabbitmq", "redis"):
        assert "s3cret" not in endpoint(broker).display_url
        assert "****" in endpoint(broker).display_url
    shown = status_table(("rabbitmq", "redis")).to_string()
    assert "s3cret" not in shown and "lab:****@" in shown
    monkeypatch.setenv("RABBITMQ_URL", "amqp://lab:s3cret-pw@localhost:notaport/")
    with pytest.raises(BrokerConfigError) as info:
        endpoint("rabbitmq")
    assert "s3cret" not in str(info.value) and "lab:****@" in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("amqp://guest:guest@localhost:5672/%2F", "amqp://guest:****@localhost:5672/%2F"),
        ("redis://:pa/ss-word@localhost:6379/0", "redis://:****@localhost:6379/0"),  # a raw /
        ("amqp://lab:p@ss/w@localhost/%2F", "amqp://lab:****@localhost/%2F"),  # a raw @ and /
        (
            "see redis://u:a/b@h:1/0 and amqp://x:y@h/",
            "see redis://u:****@h:1/0 and amqp://x:****@h/",
        ),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),  # no password: unchanged
        ("localhost:9092,localhost:9093", "localhost:9092,localhost:9093"),
    ],
)
def test_mask_password_masks_the_whole_password(url, masked):
    assert mask_password(url) == masked


def test_kafka_config_file_adds_client_settings(monkeypatch, tmp_path):
    settings = tmp_path / "client.properties"
    settings.write_text("# a managed cluster\nsecurity.protocol=SASL_SSL\nsasl.mechanism = PLAIN\n")
    monkeypatch.setenv("KAFKA_CONFIG", str(settings))
    assert kafka_config() == {
        "bootstrap.servers": "localhost:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("security.protocol SSL\n", "line 1: expected key=value"),
        ("bootstrap.servers=elsewhere:9092\n", "set it with KAFKA_BOOTSTRAP_SERVERS"),
        (None, "cannot be read"),
    ],
)
def test_a_bad_kafka_config_file_is_named(monkeypatch, tmp_path, content, error):
    settings = tmp_path / "client.properties"
    if content is not None:
        settings.write_text(content)
    monkeypatch.setenv("KAFKA_CONFIG", str(settings))
    with pytest.raises(BrokerConfigError, match=error):
        kafka_config()
