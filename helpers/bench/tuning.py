"""Tables for the Kafka tuning notebook: the two clients' defaults side by side, compression
measured in bytes on the broker and CPU seconds, the syllabus's "Kafka Optimization" lines
judged against the data, and recommendations derived from it (never typed in).

Not for measuring (see `run`, `native`, `transactions`).
"""

from __future__ import annotations

import pandas as pd

# librdkafka 2.16's defaults, from its CONFIGURATION.md (confluent-kafka has no call that lists
# them); the Java client's come from the jars themselves (native.kafka_tools.java_client_defaults).
LIBRDKAFKA_DEFAULTS = {
    "acks": "-1 (all)",
    "linger.ms": "5",
    "batch.size": "1000000",
    "batch.num.messages": "10000",
    "compression.type": "none",
    "enable.idempotence": "false",
    "max.in.flight.requests.per.connection": "1000000",
    "fetch.min.bytes": "1",
    "fetch.wait.max.ms (Java: fetch.max.wait.ms)": "500",
    "max.partition.fetch.bytes": "1048576",
    "queued.min.messages": "100000",
    "fetch.queue.backoff.ms": "1000",
}
JAVA_NAMES = {"fetch.wait.max.ms (Java: fetch.max.wait.ms)": "fetch.max.wait.ms"}
JAVA_ONLY = {"buffer.memory", "max.poll.records"}


def defaults_table(java: dict[str, dict[str, str]]) -> pd.DataFrame:
    """librdkafka's and the Java client's defaults for the settings this notebook tunes."""
    merged = {**java["consumer"], **java["producer"]}
    rows = {
        key: {"librdkafka 2.16": value, "Java client": merged.get(JAVA_NAMES.get(key, key), "—")}
        for key, value in LIBRDKAFKA_DEFAULTS.items()
    }
    rows.update({key: {"librdkafka 2.16": "—", "Java client": merged[key]} for key in JAVA_ONLY})
    table = pd.DataFrame(rows).T
    return table.assign(same=table["librdkafka 2.16"].str.split().str[0] == table["Java client"])


def compression(rows: pd.DataFrame, sizes: dict[str, int]) -> pd.DataFrame:
    """Per codec: bytes the topic takes on the broker, the ratio to no compression, and the
    producer's and consumer's CPU microseconds per message."""
    produce = rows[rows["mode"] == "produce"].set_index("compression.type")
    consume = rows[rows["mode"] == "consume"].set_index("compression.type")
    table = pd.DataFrame(
        {
            "log_bytes": {codec: sizes[topic] for codec, topic in produce["target"].items()},
            "throughput_msg_s": produce["throughput_msg_s"],
            "producer_cpu_us_per_msg": _cpu_us_per_message(produce),
            "consumer_cpu_us_per_msg": _cpu_us_per_message(consume),
        }
    )
    table.insert(1, "ratio_to_none", table["log_bytes"] / table.loc["none", "log_bytes"])
    return table


def _cpu_us_per_message(rows: pd.DataFrame) -> pd.Series:
    # cpu_s covers the measured window only, as does throughput × seconds.
    return 1e6 * rows["cpu_s"] / (rows["throughput_msg_s"] * rows["seconds"])


def optimization_lines(
    batching: pd.DataFrame, codecs: pd.DataFrame, acks: pd.DataFrame, fetch: pd.DataFrame
) -> pd.DataFrame:
    """The syllabus's "Kafka Optimization" lines, each with what it claims and the figures here.

    `batching`: one row per (batch.size, linger.ms) with throughput_msg_s and p99_ms;
    `codecs`: from `compression`; `acks`: throughput_msg_s per acks value;
    `fetch`: one row per (fetch.min.bytes, fetch.wait.max.ms) with p50_ms.
    """
    best = batching["throughput_msg_s"].idxmax()
    smallest = codecs.drop(index="none")["ratio_to_none"].idxmin()
    lines = [
        (
            "batchSize (batch.size)",
            "bigger batches, higher throughput",
            _compare(batching.xs(5, level="linger.ms")["throughput_msg_s"], "batch.size", "msg/s"),
        ),
        (
            "lingerMs (linger.ms)",
            "waiting to fill batches raises throughput, costs latency",
            _compare(
                batching.xs(best[0], level="batch.size")[["throughput_msg_s", "p99_ms"]].apply(
                    lambda r: f"{r.iloc[0]:,.0f} msg/s, p99 {r.iloc[1]:.1f} ms", axis=1
                ),
                "linger.ms",
                "",
            ),
        ),
        (
            "compression",
            "smaller batches on the wire and on disk, for CPU",
            f"{smallest}: {codecs.loc[smallest, 'ratio_to_none']:.2f} of the bytes; producer CPU "
            + ", ".join(f"{c} {v:.1f} µs" for c, v in codecs["producer_cpu_us_per_msg"].items()),
        ),
        (
            "acks",
            "fewer acknowledgements, faster",
            _compare(acks["throughput_msg_s"], "acks", "msg/s"),
        ),
        (
            "minBytes / maxWaitTimeInMs (fetch.min.bytes / fetch.wait.max.ms)",
            "the broker holds a fetch until enough bytes or the wait: fewer fetches, more latency",
            _compare(fetch["p50_ms"].map(lambda v: f"p50 {v:.1f} ms"), "fetch", ""),
        ),
    ]
    return pd.DataFrame(lines, columns=["syllabus line", "claim", "measured here"]).set_index(
        "syllabus line"
    )


def recommendations(
    batching: pd.DataFrame, codecs: pd.DataFrame, fetch: pd.DataFrame
) -> pd.DataFrame:
    """What to set for each goal, chosen from the measured rows by a stated rule."""
    fastest = batching["throughput_msg_s"].idxmax()
    tightest = batching["p99_ms"].idxmin()
    # Balanced: the highest throughput whose p99 is within twice the lowest p99 measured.
    near = batching[batching["p99_ms"] <= 2 * batching["p99_ms"].min()]
    balanced = near["throughput_msg_s"].idxmax()
    squeezed = codecs.drop(index="none")
    cheap = squeezed[squeezed["ratio_to_none"] <= 2 * squeezed["ratio_to_none"].min()]
    rows = [
        ("highest throughput", _settings(fastest), _figures(batching.loc[fastest])),
        ("lowest p99 latency", _settings(tightest), _figures(batching.loc[tightest])),
        (
            "throughput with p99 ≤ 2× the lowest",
            _settings(balanced),
            _figures(batching.loc[balanced]),
        ),
        (
            "fewest bytes on disk",
            f"compression.type={squeezed['ratio_to_none'].idxmin()}",
            f"{squeezed['ratio_to_none'].min():.2f} of uncompressed",
        ),
        (
            "small and cheap (≤ 2× the smallest, least producer CPU)",
            f"compression.type={cheap['producer_cpu_us_per_msg'].idxmin()}",
            f"{cheap['ratio_to_none'].min():.2f} of uncompressed",
        ),
        (
            "lowest consumer latency",
            f"fetch.min.bytes, fetch.wait.max.ms = {fetch['p50_ms'].idxmin()}",
            f"p50 {fetch['p50_ms'].min():.1f} ms",
        ),
    ]
    return pd.DataFrame(rows, columns=["goal", "set", "measured"]).set_index("goal")


def _settings(key: tuple) -> str:
    return f"batch.size={key[0]}, linger.ms={key[1]}"


def _figures(row: pd.Series) -> str:
    return f"{row['throughput_msg_s']:,.0f} msg/s, p99 {row['p99_ms']:.1f} ms"


def _compare(values: pd.Series, name: str, unit: str) -> str:
    return "; ".join(
        f"{name}={key}: {value:,.0f} {unit}".strip()
        if isinstance(value, float | int)
        else f"{name}={key}: {value}"
        for key, value in values.items()
    )
