"""What a benchmark run does, and the settings that make two clients comparable.

`Workload` says how much to send (a count or a duration, a warm-up, repeats, a fixed rate for
latency runs). `KafkaSettings`, `RabbitMQSettings` and `RedisSettings` hold every setting that
changes a figure; the Python harness and the native tool of a broker are both configured from
the same object, and `fairness()` is what every result row carries and prints.

Where the clients' defaults differ, the setting is written out for both, e.g. the Java producer
batches up to 16 KB by default (`batch.size=16384`) while librdkafka batches up to 1,000,000 bytes
and 10,000 messages (`batch.size`, `batch.num.messages`); both are told the same here.
Not for running anything (see `run`) or for finding the brokers (see `lab.brokers`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypedDict

from .payload import MIN_MESSAGE_BYTES


@dataclass(frozen=True)
class Workload:
    """How much to send in one repeat, all producers together."""

    message_bytes: int = 100
    count: int | None = 100_000  # measured messages (warm-up comes on top)
    duration_s: float | None = None  # send for this long instead of a count
    warmup: int = 5_000  # sent first, verified, but left out of every figure
    repeats: int = 1
    rate: float | None = None  # messages/s for latency runs; None = as fast as possible
    payload: str = "letters"  # or "orders": JSON order events (see `events`)

    def __post_init__(self) -> None:
        if self.message_bytes < MIN_MESSAGE_BYTES:
            raise ValueError(f"message_bytes must be at least {MIN_MESSAGE_BYTES}")
        if (self.count is None) == (self.duration_s is None):
            raise ValueError("give exactly one of count and duration_s")
        if self.repeats < 1 or self.warmup < 0:
            raise ValueError("repeats must be >= 1 and warmup >= 0")
        if self.payload not in ("letters", "orders"):
            raise ValueError("payload must be 'letters' or 'orders'")

    def share(self, index: int, parts: int) -> Workload:
        """This workload split over `parts` producers: producer `index`'s part."""

        def split(total: int) -> int:
            return total // parts + (1 if index < total % parts else 0)

        return Workload(
            message_bytes=self.message_bytes,
            count=None if self.count is None else split(self.count),
            duration_s=self.duration_s,
            warmup=split(self.warmup),
            repeats=1,
            rate=None if self.rate is None else self.rate / parts,
            payload=self.payload,
        )


class ProducerShare(TypedDict):
    """What every producer process is told, whatever the broker: who it is and its part of the
    workload. Each broker's `ProducerSpec` adds how to reach the broker."""

    producer_id: int
    workload: Workload  # `Workload.share` of the run's workload


@dataclass(frozen=True)
class KafkaSettings:
    """Producer and consumer settings given identically to confluent-kafka and the Java tools.

    Defaults: what makes both clients batch the same way (1 MB batches, 5 ms linger: the 4.x
    default of both), `acks=all` with idempotence (the Java client's defaults since 3.0).
    """

    # the topic and the processes on each side
    partitions: int = 1
    producers: int = 1
    consumers: int = 1
    # the producer
    acks: str = "all"
    linger_ms: float = 5
    batch_size: int = 1_048_576
    max_in_flight: int = 5
    buffer_memory: int = 33_554_432  # the Java default; librdkafka gets the same in kbytes
    compression: str = "none"
    enable_idempotence: bool = True
    # the consumer
    fetch_min_bytes: int = 1
    fetch_wait_max_ms: int = 500
    max_partition_fetch_bytes: int = 1_048_576
    receive_buffer_bytes: int = 2_097_152  # ConsumerPerformance's --socket-buffer-size default
    # librdkafka only: once 100,000 messages (queued.min.messages) wait in its local queue it
    # stops fetching and, by default, waits 1000 ms before fetching again; a fast consumer then
    # idles most of the time. The Java consumer has no such pause.
    fetch_queue_backoff_ms: int = 10

    def __post_init__(self) -> None:
        if self.consumers > self.partitions:
            raise ValueError("more consumers than partitions would leave some idle")

    def fairness(self) -> dict[str, object]:
        return {
            "acks": self.acks,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "compression.type": self.compression,
            "enable.idempotence": self.enable_idempotence,
            "max.in.flight": self.max_in_flight,
            "partitions": self.partitions,
            "producers": self.producers,
            "consumers": self.consumers,
            "fetch.min.bytes": self.fetch_min_bytes,
            "fetch.wait.max.ms": self.fetch_wait_max_ms,
            "fetch.queue.backoff.ms": self.fetch_queue_backoff_ms,
        }

    def common_producer(self) -> dict[str, str]:
        """Producer properties both clients spell the same way."""
        return {
            "acks": self.acks,
            "linger.ms": _number(self.linger_ms),
            "batch.size": str(self.batch_size),
            "compression.type": self.compression,
            "enable.idempotence": str(self.enable_idempotence).lower(),
            "max.in.flight.requests.per.connection": str(self.max_in_flight),
        }

    def librdkafka_producer(self) -> dict[str, str]:
        return {
            **self.common_producer(),
            # librdkafka also caps a batch at 10,000 messages; Java has no such cap.
            "batch.num.messages": "1000000",
            "queue.buffering.max.kbytes": str(self.buffer_memory // 1024),
            "queue.buffering.max.messages": "10000000",  # Java bounds its buffer by bytes only
        }

    def java_producer(self) -> dict[str, str]:
        return {**self.common_producer(), "buffer.memory": str(self.buffer_memory)}

    def librdkafka_consumer(self) -> dict[str, str]:
        return {
            "fetch.min.bytes": str(self.fetch_min_bytes),
            "fetch.wait.max.ms": str(self.fetch_wait_max_ms),
            "max.partition.fetch.bytes": str(self.max_partition_fetch_bytes),
            "socket.receive.buffer.bytes": str(self.receive_buffer_bytes),
            "fetch.queue.backoff.ms": str(self.fetch_queue_backoff_ms),
        }

    def java_consumer(self) -> dict[str, str]:
        return {
            "fetch.min.bytes": str(self.fetch_min_bytes),
            "fetch.max.wait.ms": str(self.fetch_wait_max_ms),  # the Java spelling
            "max.partition.fetch.bytes": str(self.max_partition_fetch_bytes),
            "receive.buffer.bytes": str(self.receive_buffer_bytes),
        }


@dataclass(frozen=True)
class RabbitMQSettings:
    """Publisher and consumer settings given identically to pika and PerfTest.

    `confirms` waits for each publisher confirm (PerfTest `-c 1`: pika's BlockingChannel has no
    confirm window). `persistent` means a durable queue and persistent messages (PerfTest's
    `-f persistent`). Consumers ack every `multi_ack_every` messages with `multiple=True`.
    """

    confirms: bool = False
    persistent: bool = False
    prefetch: int = 1000
    multi_ack_every: int = 100
    auto_ack: bool = False
    queues: int = 1
    queue_type: str = "classic"
    producers: int = 1
    consumers: int = 1

    def __post_init__(self) -> None:
        if not self.auto_ack and self.multi_ack_every > self.prefetch:
            raise ValueError("multi_ack_every above prefetch would stall the consumer")
        if self.queue_type == "quorum" and not self.persistent:
            raise ValueError("quorum queues are always durable: set persistent=True")

    def fairness(self) -> dict[str, object]:
        # Every field counts; with auto-ack there are no acks to batch.
        return {**asdict(self), "multi_ack_every": 0 if self.auto_ack else self.multi_ack_every}


@dataclass(frozen=True)
class RedisSettings:
    """XADD pipelining and reading, given identically to redis-py and redis-benchmark.

    `producers` is the number of connections sending XADDs (one process each; redis-benchmark's
    `-c`). `appendfsync` None leaves the server's setting; otherwise it is set for the run and
    restored afterwards. The server's AOF settings are read and reported either way.
    """

    pipeline: int = 16
    producers: int = 2
    consumers: int = 1
    streams: int = 1
    read_count: int = 1000
    appendfsync: str | None = None
    server: dict[str, str] = field(default_factory=dict, compare=False)

    def fairness(self) -> dict[str, object]:
        """The AOF settings as the server reported them for the run (`server`); `appendfsync`
        as asked only where the server did not say."""
        return {
            "pipeline": self.pipeline,
            "streams": self.streams,
            "producers": self.producers,
            "consumers": self.consumers,
            "appendonly": self.server.get("appendonly", ""),
            "appendfsync": self.server.get("appendfsync", self.appendfsync or ""),
        }


Settings = KafkaSettings | RabbitMQSettings | RedisSettings
BROKER_OF = {KafkaSettings: "kafka", RabbitMQSettings: "rabbitmq", RedisSettings: "redis"}


def broker_of(settings: Settings) -> str:
    return BROKER_OF[type(settings)]


def settings_text(settings: Settings, message_bytes: int) -> str:
    """One line with every fairness setting: the key that pairs a Python row with its native
    reference, and what a table or plot prints."""
    items = {"message_bytes": message_bytes, **settings.fairness()}
    return " ".join(f"{key}={_text(value)}" for key, value in items.items())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return _number(value)
    return str(value)
