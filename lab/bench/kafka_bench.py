"""Kafka in the harness, parent side: a topic per repeat (named per run, deleted after), and
the librdkafka configurations built from `KafkaSettings` on top of `lab.brokers.kafka_config()`.

Throughput runs produce first and consume afterwards, like ProducerPerformance followed by
ConsumerPerformance; latency runs overlap them. Not for the loops themselves (see
`kafka_workers`) or the Java tools (see `native.kafka_tools`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping

from confluent_kafka.admin import AdminClient, NewTopic

from helpers.kafka.admin import wait_until_ready
from helpers.naming import unique_name
from lab.brokers import kafka_config

from . import kafka_workers
from .kafka_workers import ConsumerSpec, ProducerSpec
from .plan import Plan, deleted_afterwards
from .settings import KafkaSettings, Workload

TOOL = "confluent-kafka"
OVERLAP_THROUGHPUT = False
produce, consume = kafka_workers.produce, kafka_workers.consume


def producer_config(settings: KafkaSettings) -> dict[str, str]:
    return {**kafka_config(), **settings.librdkafka_producer()}


def consumer_config(settings: KafkaSettings, group: str) -> dict[str, object]:
    return {
        **kafka_config(),
        "group.id": group,  # never joined (partitions are assigned) nor committed
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        **settings.librdkafka_consumer(),
    }


@functools.lru_cache(maxsize=1)
def _admin(bootstrap: str) -> AdminClient:
    # One per process: a client created and dropped per call makes librdkafka log purges.
    config: dict[str, str | int | float | bool] = {**kafka_config(bootstrap)}
    return AdminClient(config)


def admin() -> AdminClient:
    """The process's one admin client for the lab's Kafka."""
    return _admin(kafka_config()["bootstrap.servers"])


def create_topic(name: str, partitions: int, config: Mapping[str, object] | None = None) -> str:
    client = admin()
    future = client.create_topics(
        [NewTopic(name, partitions, -1, config={k: str(v) for k, v in (config or {}).items()})],
        operation_timeout=10,
    )[name]
    future.result(timeout=30)
    wait_until_ready(client, name, partitions)
    return name


def delete_topic(name: str) -> None:
    for future in admin().delete_topics([name], operation_timeout=10).values():
        with contextlib.suppress(Exception):  # already gone is fine: clean-up is idempotent
            future.result(timeout=30)


def topics_starting_with(prefix: str) -> list[str]:
    """Existing topics whose names start with `prefix` (a run's name): what clean-up checks."""
    names = admin().list_topics(timeout=10).topics
    return sorted(name for name in names if name.startswith(prefix))


def delete(names: list[str]) -> None:
    for name in names:
        delete_topic(name)


@contextlib.contextmanager
def prepared(
    settings: KafkaSettings, workload: Workload, latency: bool, keep: bool = False
) -> Iterator[Plan[ProducerSpec, ConsumerSpec]]:
    topic = create_topic(unique_name("bench-kafka"), settings.partitions)
    with deleted_afterwards([topic], delete, keep=keep):
        producers: list[ProducerSpec] = [
            {
                "config": producer_config(settings),
                "topic": topic,
                "producer_id": i,
                "workload": workload.share(i, settings.producers),
            }
            for i in range(settings.producers)
        ]
        group = unique_name("bench-kafka")
        consumers: list[ConsumerSpec] = [
            {
                "config": consumer_config(settings, group),
                "topic": topic,
                "partitions": list(range(i, settings.partitions, settings.consumers)),
                "latency": latency,
            }
            for i in range(settings.consumers)
        ]
        yield Plan(settings, producers, consumers, [topic])
