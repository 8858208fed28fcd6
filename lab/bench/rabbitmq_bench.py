"""RabbitMQ in the harness, parent side: queues declared per repeat (named per run, bound to
`amq.direct`, deleted after) and the worker specs built from `RabbitMQSettings`.

Publishers and consumers run at the same time, as PerfTest's do. Not for the loops (see
`rabbitmq_workers`) or PerfTest (see `native.perftest`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pika.adapters.blocking_connection import BlockingChannel

from helpers.naming import unique_name
from lab.brokers import endpoint

from . import rabbitmq_workers
from .plan import Plan, deleted_afterwards
from .rabbitmq_workers import ConsumerSpec, ProducerSpec
from .settings import RabbitMQSettings, Workload

TOOL = "pika"
OVERLAP_THROUGHPUT = True
produce, consume = rabbitmq_workers.produce, rabbitmq_workers.consume


def declare_queues(settings: RabbitMQSettings, prefix: str) -> list[str]:
    """Declare the run's queues, bound to amq.direct by their own names; returns the names."""
    arguments = {"x-queue-type": settings.queue_type}
    names = [unique_name(f"{prefix}-{i}") for i in range(settings.queues)]
    with _channel() as channel:
        for name in names:
            channel.queue_declare(name, durable=settings.persistent, arguments=arguments)
            channel.queue_bind(name, rabbitmq_workers.EXCHANGE, routing_key=name)
    return names


def delete_queues(names: list[str]) -> None:
    with _channel() as channel:
        for name in names:
            channel.queue_delete(name)


delete = delete_queues


@contextlib.contextmanager
def _channel() -> Iterator[BlockingChannel]:
    connection = rabbitmq_workers.connect(endpoint("rabbitmq").url)
    try:
        yield connection.channel()
    finally:
        connection.close()


def consumer_queues(index: int, queues: list[str], consumers: int) -> list[tuple[str, int]]:
    """(queue, lane) pairs for consumer `index`: its share of the queues, or one queue when
    there are more consumers than queues (they then compete on it)."""
    lanes = list(enumerate(queues))
    mine = lanes[index::consumers] if consumers <= len(queues) else [lanes[index % len(queues)]]
    return [(name, lane) for lane, name in mine]


@contextlib.contextmanager
def prepared(
    settings: RabbitMQSettings, workload: Workload, latency: bool, keep: bool = False
) -> Iterator[Plan[ProducerSpec, ConsumerSpec]]:
    queues = declare_queues(settings, "bench-rabbitmq")
    url = endpoint("rabbitmq").url  # carries the password: specs are never printed
    with deleted_afterwards(queues, delete_queues, keep=keep):
        producers: list[ProducerSpec] = [
            {
                "url": url,
                "queue": queues[i % len(queues)],
                "confirms": settings.confirms,
                "persistent": settings.persistent,
                "producer_id": i,
                "workload": workload.share(i, settings.producers),
            }
            for i in range(settings.producers)
        ]
        consumers: list[ConsumerSpec] = [
            {
                "url": url,
                "queues": consumer_queues(i, queues, settings.consumers),
                "prefetch": settings.prefetch,
                "auto_ack": settings.auto_ack,
                "multi_ack_every": settings.multi_ack_every,
                "latency": latency,
            }
            for i in range(settings.consumers)
        ]
        yield Plan(settings, producers, consumers, queues)
