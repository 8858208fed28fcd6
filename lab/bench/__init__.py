"""One measurement harness for Kafka, RabbitMQ and Redis Streams, beside each broker's own tool.

    from lab import bench
    kafka = bench.KafkaSettings({"batch.size": 1_048_576, "linger.ms": 5, "acks": "all"})
    rows = bench.throughput(kafka, bench.Workload(message_bytes=100, count=200_000, repeats=3))
    rows = pd.concat([rows, bench.native.throughput(kafka, workload)])   # same settings
    bench.summary(rows)                                                  # ratio_to_native

- `throughput`: fixed count or duration, warm-up excluded, N repeats; counts only what the
  consumers received and verified (count, checksum, duplicates, order).
- `latency`: fixed rate, each message stamped with its intended send time (no coordinated
  omission), end-to-end percentiles from HdrHistogram.
- `native`: Kafka's ProducerPerformance / ConsumerPerformance / EndToEndLatency, RabbitMQ
  PerfTest and redis-benchmark with the same settings, parsed into the same rows.
- Results are tidy DataFrames (units in column names); `summary` and `save` write the CSV.

Modules: settings (what to run), payload (bodies and verification), pacing and histogram (latency
without coordinated omission), processes and loops (worker processes), *_bench and *_workers (one
pair per broker), native (the reference tools), results (rows and summary), charts (figures).
"""

from . import native
from .histogram import corrected, from_ms, summary_ms
from .loops import producer_cost_us
from .pacing import FixedRate
from .payload import BodyMaker, ReceivedTally, SentTally, Verification, verify
from .processes import RunFailed
from .results import frame, save, summary
from .run import bare_latency, bare_throughput, delete_targets, latency, throughput
from .settings import KafkaSettings, RabbitMQSettings, RedisSettings, Workload, settings_text

__all__ = [
    "BodyMaker",
    "bare_latency",
    "bare_throughput",
    "FixedRate",
    "KafkaSettings",
    "RabbitMQSettings",
    "ReceivedTally",
    "RedisSettings",
    "RunFailed",
    "SentTally",
    "Verification",
    "Workload",
    "corrected",
    "delete_targets",
    "frame",
    "from_ms",
    "latency",
    "native",
    "producer_cost_us",
    "save",
    "settings_text",
    "summary",
    "summary_ms",
    "throughput",
    "verify",
]
