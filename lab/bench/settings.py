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

from collections.abc import Mapping
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


# The client settings the harness gives both Kafka clients, as Kafka spells them, with their
# defaults here: what makes both batch the same way (1 MB batches, 5 ms linger: the 4.x default
# of both), `acks=all` with idempotence (the Java client's defaults since 3.0).
KAFKA_DEFAULTS: dict[str, object] = {
    # the producer
    "acks": "all",
    "linger.ms": 5,
    "batch.size": 1_048_576,
    "max.in.flight.requests.per.connection": 5,
    "buffer.memory": 33_554_432,  # the Java name; librdkafka gets the same in kbytes
    "compression.type": "none",
    "enable.idempotence": True,
    # the consumer
    "fetch.min.bytes": 1,
    "fetch.wait.max.ms": 500,  # librdkafka's name; the Java client's is fetch.max.wait.ms
    "max.partition.fetch.bytes": 1_048_576,
    "socket.receive.buffer.bytes": 2_097_152,  # ConsumerPerformance's --socket-buffer-size
    # librdkafka only: once 100,000 messages (queued.min.messages) wait in its local queue it
    # stops fetching and, by default, waits 1000 ms before fetching again; a fast consumer then
    # idles most of the time. The Java consumer has no such pause.
    "fetch.queue.backoff.ms": 10,
}
# The few names the two clients spell differently: librdkafka's -> the Java client's.
JAVA_NAMES = {
    "fetch.wait.max.ms": "fetch.max.wait.ms",
    "socket.receive.buffer.bytes": "receive.buffer.bytes",
}
PRODUCER_SETTINGS = (
    "acks",
    "linger.ms",
    "batch.size",
    "compression.type",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
)
CONSUMER_SETTINGS = (
    "fetch.min.bytes",
    "fetch.wait.max.ms",
    "max.partition.fetch.bytes",
    "socket.receive.buffer.bytes",
)


@dataclass(frozen=True)
class KafkaSettings:
    """Producer and consumer settings given identically to confluent-kafka and the Java tools,
    written as Kafka spells them, over `KAFKA_DEFAULTS`; and the processes on each side.

        KafkaSettings({"linger.ms": 0, "fetch.wait.max.ms": 0})
        KafkaSettings({"acks": "1", "enable.idempotence": False}, partitions=2, consumers=2)
    """

    config: Mapping[str, object] = field(default_factory=dict, hash=False)
    # the topic and the processes on each side
    partitions: int = 1
    producers: int = 1
    consumers: int = 1

    def __post_init__(self) -> None:
        unknown = sorted(set(self.config) - set(KAFKA_DEFAULTS))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a setting the harness gives both Kafka clients; "
                f"these are: {', '.join(KAFKA_DEFAULTS)}"
            )
        if self.consumers > self.partitions:
            raise ValueError("more consumers than partitions would leave some idle")

    def __getitem__(self, name: str) -> object:
        """A client setting by its Kafka name, this run's value or the harness's default."""
        return self.config.get(name, KAFKA_DEFAULTS[name])

    def fairness(self) -> dict[str, object]:
        producer = {name: self[name] for name in PRODUCER_SETTINGS}
        # librdkafka's short name for it, as the result rows and tables have always shown it
        producer["max.in.flight"] = producer.pop("max.in.flight.requests.per.connection")
        return {
            **producer,
            "partitions": self.partitions,
            "producers": self.producers,
            "consumers": self.consumers,
            **{name: self[name] for name in (*CONSUMER_SETTINGS[:2], "fetch.queue.backoff.ms")},
        }

    def common_producer(self) -> dict[str, str]:
        """Producer properties both clients spell the same way."""
        return {name: _text(self[name]) for name in PRODUCER_SETTINGS}

    def librdkafka_producer(self) -> dict[str, str]:
        return {
            **self.common_producer(),
            # librdkafka also caps a batch at 10,000 messages; Java has no such cap.
            "batch.num.messages": "1000000",
            "queue.buffering.max.kbytes": str(int(str(self["buffer.memory"])) // 1024),
            "queue.buffering.max.messages": "10000000",  # Java bounds its buffer by bytes only
        }

    def java_producer(self) -> dict[str, str]:
        return {**self.common_producer(), "buffer.memory": _text(self["buffer.memory"])}

    def librdkafka_consumer(self) -> dict[str, str]:
        names = (*CONSUMER_SETTINGS, "fetch.queue.backoff.ms")
        return {name: _text(self[name]) for name in names}

    def java_consumer(self) -> dict[str, str]:
        return {JAVA_NAMES.get(name, name): _text(self[name]) for name in CONSUMER_SETTINGS}


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
