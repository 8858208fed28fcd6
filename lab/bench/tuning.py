"""Tables for the Kafka tuning notebook: the two clients' defaults side by side, compression
measured in bytes on the broker and CPU seconds, the usual tuning checklist's lines
judged against the data, and recommendations derived from it (never typed in).

Not for measuring (see `run`, `native`, `transactions`).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

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
    table.insert(1, "ratio_to_none", table["log_bytes"] / table["log_bytes"]["none"])
    return table


def _cpu_us_per_message(rows: pd.DataFrame) -> pd.Series:
    # cpu_s covers the measured window only, as does throughput × seconds.
    return 1e6 * rows["cpu_s"] / (rows["throughput_msg_s"] * rows["seconds"])


def optimization_lines(
    batching: pd.DataFrame, codecs: pd.DataFrame, acks: pd.DataFrame, fetch: pd.DataFrame
) -> pd.DataFrame:
    """The usual tuning checklist, line by line: each claim, the figures that test it, and
    whether it holds here, decided by the comparison written next to it below.

    `batching`: indexed by (batch.size, linger.ms), with throughput_msg_s, p50_ms and p99_ms;
    `codecs`: from `compression`; `acks`: throughput_msg_s indexed by acks;
    `fetch`: p50_ms indexed by (fetch.min.bytes, fetch.wait.max.ms), in increasing minimum.
    """
    index = batching.index
    assert isinstance(index, pd.MultiIndex)  # (batch.size, linger.ms)
    small, large = index.levels[0].min(), index.levels[0].max()
    no_linger, most_linger = index.levels[1].min(), index.levels[1].max()
    at_5 = batching.xs(5, level="linger.ms")["throughput_msg_s"]
    at_large = batching.xs(large, level="batch.size")
    squeezed = codecs.drop(index="none")
    rows = [
        _line(
            "batchSize (batch.size)",
            "bigger batches, more throughput",
            {f"batch.size={k}": f"{v:,.0f} msg/s" for k, v in at_5.items()},
            at_5[large] > at_5[small],  # 1 MB batches faster than 16 KB, at linger.ms=5
        ),
        _line(
            "lingerMs (linger.ms): throughput",
            "waiting to fill batches raises throughput",
            {f"linger.ms={k}": f"{v:,.0f} msg/s" for k, v in at_large["throughput_msg_s"].items()},
            # some linger faster than none, with the larger batches
            at_large["throughput_msg_s"].drop(index=no_linger).max()
            > at_large.loc[no_linger, "throughput_msg_s"],
        ),
        _line(
            "lingerMs (linger.ms): latency",
            "...and costs latency",
            {
                f"linger.ms={k}": f"p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms"
                for k, row in at_large.iterrows()
            },
            # the typical message waits longer: the median, which one stall of a busy machine
            # cannot move the way it moves p99
            at_large.loc[most_linger, "p50_ms"] > at_large.loc[no_linger, "p50_ms"],
        ),
        _line(
            "compression",
            "fewer bytes, for CPU",
            {
                str(codec): f"{row.ratio_to_none:.2f} of the bytes, "
                f"{row.producer_cpu_us_per_msg:.1f} µs"
                for codec, row in codecs.iterrows()
            },
            bool((squeezed["ratio_to_none"] < 1).all())  # every codec saved bytes...
            and squeezed["producer_cpu_us_per_msg"].max()
            > codecs.loc["none", "producer_cpu_us_per_msg"],  # ...and one cost CPU
        ),
        _line(
            "acks",
            "fewer acknowledgements, more throughput",
            {f"acks={k}": f"{v:,.0f} msg/s" for k, v in acks["throughput_msg_s"].items()},
            acks["throughput_msg_s"].iloc[0] > acks["throughput_msg_s"].iloc[-1],  # 0 vs all
        ),
        _line(
            "minBytes / maxWaitTimeInMs (fetch.min.bytes / fetch.wait.max.ms)",
            "fuller fetches, at the cost of latency when data trickles",
            {_pair(_label(k)): f"p50 {v:.1f} ms" for k, v in fetch["p50_ms"].items()},
            fetch["p50_ms"].iloc[-1] > fetch["p50_ms"].iloc[0],  # largest minimum vs 1 byte
        ),
    ]
    return pd.DataFrame(rows).set_index("checklist line")


def _line(name: str, claim: str, measured: dict[str, str], holds: bool) -> dict[str, str]:
    return {
        "checklist line": name,
        "claim": claim,
        "measured here": "; ".join(f"{key}: {value}" for key, value in measured.items()),
        "holds here": "yes" if holds else "no",
    }


def _label(label: Hashable) -> tuple[Any, ...]:
    """A row label of a table indexed by two settings: one value per level."""
    assert isinstance(label, tuple)
    return label


def _pair(key: tuple[Any, ...]) -> str:
    return f"fetch.min.bytes={int(key[0])}, fetch.wait.max.ms={int(key[1])}"


def recommendations(
    batching: pd.DataFrame, codecs: pd.DataFrame, fetch: pd.DataFrame
) -> pd.DataFrame:
    """What to set for each goal, chosen from the measured rows by a stated rule."""
    fastest = _label(batching["throughput_msg_s"].idxmax())
    tightest = _label(batching["p99_ms"].idxmin())
    # Balanced: the highest throughput whose p99 is within twice the lowest p99 measured.
    near = batching[batching["p99_ms"] <= 2 * batching["p99_ms"].min()]
    balanced = _label(near["throughput_msg_s"].idxmax())
    squeezed = codecs.drop(index="none")
    cheap = squeezed[squeezed["ratio_to_none"] <= 2 * squeezed["ratio_to_none"].min()]
    cheapest = cheap["producer_cpu_us_per_msg"].idxmin()
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
            f"compression.type={cheapest}",
            f"{cheap.loc[cheapest, 'ratio_to_none']:.2f} of uncompressed, "
            f"{cheap.loc[cheapest, 'producer_cpu_us_per_msg']:.1f} µs per message",
        ),
        (
            "lowest consumer latency",
            _pair(_label(fetch["p50_ms"].idxmin())),
            f"p50 {fetch['p50_ms'].min():.1f} ms",
        ),
    ]
    return pd.DataFrame(rows, columns=["goal", "set", "measured"]).set_index("goal")


def _settings(key: tuple[Any, ...]) -> str:
    return f"batch.size={key[0]}, linger.ms={key[1]}"


def _figures(row: pd.Series) -> str:
    return f"{row['throughput_msg_s']:,.0f} msg/s, p99 {row['p99_ms']:.1f} ms"
