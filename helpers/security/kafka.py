"""Kafka on the secured broker: ACLs granted by the administrator, a round trip as the users they
allow, and each refusal as the client reports it (the broker's error code where there is one)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AclBinding, AclBindingFilter, AdminClient, NewTopic

from lab.brokers import credentials, secure
from lab.brokers.secure import KAFKA, KAFKA_SSL_PORT


def admin() -> AdminClient:
    return AdminClient({**secure.kafka_config("admin"), "log_level": 0})


def create_topic(name: str) -> str:
    client = admin()  # kept alive until the answer arrives
    client.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    return name


def delete_topics(names: list[str]) -> None:
    client = admin()
    for future in client.delete_topics(names, operation_timeout=30).values():
        future.result(timeout=60)


def revoke(acls: list[AclBinding]) -> None:
    """Delete exactly these ACLs."""
    filters = [
        AclBindingFilter(
            a.restype,
            a.name,
            a.resource_pattern_type,
            a.principal,
            a.host,
            a.operation,
            a.permission_type,
        )
        for a in acls
    ]
    client = admin()
    for future in client.delete_acls(filters).values():
        future.result(timeout=30)


def produce_one(config: dict[str, Any], topic: str, value: bytes, timeout_s: float = 8) -> None:
    """Produce `value` and wait for its acknowledgement; KafkaException with the first error the
    client reports (a refused delivery, or a failed login or handshake) instead."""
    errors: list[KafkaError] = []
    log = _FailureLog()
    producer = Producer(
        {
            **config,
            "logger": log.logger,
            "error_cb": errors.append,
            "message.timeout.ms": int(timeout_s * 1000),
        }
    )
    delivered: list[KafkaError | None] = []
    producer.produce(topic, value, on_delivery=lambda error, _m: delivered.append(error))
    deadline = time.monotonic() + timeout_s
    while not delivered and not errors and time.monotonic() < deadline:
        producer.poll(0.1)
    if errors:
        producer.poll(0.5)  # the log lines that say why come through poll too
        raise KafkaException(log.explain(errors[0]))
    if delivered and delivered[0] is not None:
        raise KafkaException(delivered[0])
    if not delivered:
        raise TimeoutError(f"no acknowledgement in {timeout_s} s")


class _FailureLog:
    """librdkafka's connection failures, which say more than the error they end in (all brokers
    down): e.g. the broker closed the connection in the middle of the handshake."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.logger = logging.Logger("lab.security.kafka")  # not registered: one per client
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(_Collect(self.failures))

    def explain(self, error: KafkaError) -> KafkaError:
        if error.code() != KafkaError._ALL_BROKERS_DOWN or not self.failures:
            return error
        detail = self.failures[0].split(": ", 2)[-1]  # after "FAIL [client] [thread]: broker:"
        return KafkaError(error.code(), f"{error.str()}: {detail}")


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("FAIL"):
            self.into.append(record.getMessage())


def consume_one(config: dict[str, Any], topic: str, group: str, timeout_s: float = 10) -> bytes:
    """The first message of `topic` read in `group`; KafkaException with the error instead."""
    errors: list[KafkaError] = []
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
            "error_cb": errors.append,
        }
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not errors:
            message: Message | None = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            return message.value() or b""
        raise KafkaException(errors[0]) if errors else TimeoutError(f"nothing in {timeout_s} s")
    finally:
        consumer.close()


def anonymous_tls(ca: Path | None = None) -> dict[str, Any]:
    """The TLS-only listener: encrypted, and anonymous (no user name): User:ANONYMOUS."""
    return {
        "bootstrap.servers": f"localhost:{KAFKA_SSL_PORT}",
        "security.protocol": "SSL",
        "ssl.ca.location": str(ca or credentials.ensure().ca),
    }


def plaintext_on_the_tls_port() -> dict[str, Any]:
    return {"bootstrap.servers": f"localhost:{KAFKA.tls_port}"}
