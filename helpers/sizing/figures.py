"""The figures a sizing rests on, each with where it comes from.

Per broker and per lane (a Kafka partition, a RabbitMQ queue, a Redis stream): how many messages
one lane takes in and gives out, what the safe durability setting leaves of that, and the p99
end-to-end latency at a rate. `load_figures` reads them from a benchmark run's `summary.csv`
(`make bench` writes `results/latest/summary.csv`) and takes, for every figure that run did not
measure, a published figure or a stated assumption instead. Every `Figure` says which in `source`.

Not for measuring (see `measure` and `make bench`) or for sizing (see `calculator`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lab.brokers.config import PROJECT_ROOT

LATEST = PROJECT_ROOT / "results" / "latest"
BROKERS = ("kafka", "rabbitmq", "redis")
LANES = {"kafka": "partition", "rabbitmq": "queue", "redis": "stream"}
# The setting that makes a row "safe" in the bench's durability experiment, and its "fast" value.
SAFE_SETTING = {
    "kafka": ("acks", "all", "1"),
    "rabbitmq": ("confirms", "true", "false"),
    "redis": ("appendfsync", "always", "everysec"),
}
# One lane's setting in the bench's settings line (the 100-byte comparison runs one lane).
ONE_LANE = {"kafka": ("partitions", "1"), "rabbitmq": ("queues", "1"), "redis": ("streams", "1")}

# Sources of the published figures, named so a learner can find them.
KREPS_2014 = (
    "J. Kreps, 'Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap "
    "Machines)', LinkedIn Engineering blog, 27 April 2014 (Kafka 0.8.1)"
)
CONFLUENT_PITFALLS = (
    "Confluent blog, '5 Common Pitfalls When Using Apache Kafka': one partition takes "
    "'roughly 10s of MB/sec' from a producer; the low end, 10 MB/s, is used"
)
CLOUDAMQP_BEST_PRACTICE = (
    "CloudAMQP blog, 'Part 1: RabbitMQ Best Practices': 'one queue can handle up to about "
    "50 thousand messages' (per second); a vendor's rule of thumb, not a RabbitMQ 3.10 measurement"
)


@dataclass(frozen=True)
class Figure:
    """A number, its unit, and where it comes from (`measured` True: this machine's run)."""

    value: float
    unit: str
    source: str
    measured: bool = False

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)


@dataclass(frozen=True)
class LaneFigures:
    """One broker's figures per lane. `produce_msg_s`/`consume_msg_s` hold for messages up to
    `message_bytes`; `mb_s` caps larger ones; `safe_factor` is safe ÷ fast producer throughput
    (`produce_is_safe`: whether `produce_msg_s` was measured with the safe setting already);
    `p99_ms` is the end-to-end p99 at up to `p99_rate_msg_s` messages/s per lane."""

    broker: str
    message_bytes: int
    produce_msg_s: Figure
    consume_msg_s: Figure
    mb_s: Figure
    safe_factor: Figure
    p99_ms: Figure
    p99_rate_msg_s: float
    produce_is_safe: bool = False  # produce_msg_s was measured with the safe setting

    @property
    def lane(self) -> str:
        return LANES[self.broker]

    def sources(self) -> pd.DataFrame:
        """One row per figure: its value, unit and source."""
        names = ["produce_msg_s", "consume_msg_s", "mb_s", "safe_factor", "p99_ms"]
        figures = {name: getattr(self, name) for name in names}
        return pd.DataFrame(
            [
                {"broker": self.broker, "figure": name, "value": f.value, "unit": f.unit}
                | {"measured here": f.measured, "source": f.source}
                for name, f in figures.items()
            ]
        )


def assumption(value: float, unit: str, why: str) -> Figure:
    """A figure nobody measured or published here, said to be one."""
    return Figure(value, unit, f"ASSUMPTION (not measured, not published): {why}")


NOT_KNOWN = Figure(math.nan, "ms", "no figure: run `make bench` to measure it")

# Used where this machine's run has no figure. Each one is published (source named) or an
# assumption that says so; none is a measurement of the versions the lab runs.
FALLBACK = {
    "kafka": LaneFigures(
        broker="kafka",
        message_bytes=100,
        produce_msg_s=Figure(100_000, "msg/s", f"{CONFLUENT_PITFALLS}; 10 MB/s ÷ 100 B"),
        consume_msg_s=assumption(
            100_000,
            "msg/s",
            "a consumer reads a partition as fast as it "
            "is written; the same source leaves consumers to be measured",
        ),
        mb_s=Figure(10, "MB/s", CONFLUENT_PITFALLS),
        safe_factor=Figure(
            421_823 / 786_980,
            "safe ÷ fast",
            f"{KREPS_2014}: 421,823 records/s with 3x synchronous replication (acks=all) ÷ "
            "786,980 with 3x asynchronous, one producer thread, 100-byte records",
        ),
        p99_ms=Figure(3, "ms", f"{KREPS_2014}: end-to-end latency 2 ms median, 3 ms p99"),
        p99_rate_msg_s=math.inf,
    ),
    "rabbitmq": LaneFigures(
        broker="rabbitmq",
        message_bytes=100,
        produce_msg_s=Figure(50_000, "msg/s", CLOUDAMQP_BEST_PRACTICE),
        consume_msg_s=Figure(50_000, "msg/s", CLOUDAMQP_BEST_PRACTICE),
        mb_s=assumption(50, "MB/s", "a queue's bytes capped like a Kafka partition's"),
        safe_factor=assumption(0.5, "safe ÷ fast", "confirms and persistence halve a queue's rate"),
        p99_ms=NOT_KNOWN,
        p99_rate_msg_s=math.inf,
    ),
    "redis": LaneFigures(
        broker="redis",
        message_bytes=100,
        produce_msg_s=assumption(
            20_000, "msg/s", "XADDs per stream; one Redis thread runs every command of an instance"
        ),
        consume_msg_s=assumption(20_000, "msg/s", "XREADGROUP entries per stream, as XADD"),
        mb_s=assumption(50, "MB/s", "a stream's bytes capped like a Kafka partition's"),
        safe_factor=assumption(0.5, "safe ÷ fast", "appendfsync always halves the XADD rate"),
        p99_ms=NOT_KNOWN,
        p99_rate_msg_s=math.inf,
    ),
}


@dataclass(frozen=True)
class Figures:
    """The figures of every broker, and a sentence saying where they come from."""

    brokers: dict[str, LaneFigures]
    note: str

    def sources(self) -> pd.DataFrame:
        return pd.concat([f.sources() for f in self.brokers.values()], ignore_index=True)


def load_figures(
    folders: Path | str | Sequence[Path | str] | None = None, *, message_bytes: int = 100
) -> Figures:
    """The figures for messages of `message_bytes`: from the summary.csv of the first of
    `folders` (default results/latest) that measured each, FALLBACK where none did."""
    if folders is None or isinstance(folders, (str, Path)):
        folders = [LATEST if folders is None else folders]
    paths = [Path(folder) / "summary.csv" for folder in folders]
    found = [path for path in paths if path.exists()]
    if not found:
        note = (
            f"No measurements: {', '.join(map(str, paths))} {'does' if len(paths) == 1 else 'do'} "
            "not exist (run `make bench`). "
            "Every figure is a published figure or an assumption, each labelled with its source."
        )
        return Figures({b: FALLBACK[b] for b in BROKERS}, note)
    brokers = dict(FALLBACK)
    for path in reversed(found):  # the first folder's figures are applied last: they win
        table = _read(path)
        for broker in BROKERS:
            brokers[broker] = _merge(brokers[broker], _measured(broker, table, path, message_bytes))
    where = " and ".join(map(str, found))
    return Figures(
        brokers, f"Measured figures from {where}; the others labelled with their source."
    )


def _read(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    missing = {"broker", "client", "mode", "message_bytes", "settings", "throughput_msg_s"} - set(
        table
    )
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}: is it a bench summary.csv?")
    return table[table["client"] == "python"]


# Fields that travel together: a produce rate with the size and setting it was measured at.
GROUPS = {
    "produce_msg_s": ("produce_msg_s", "mb_s", "message_bytes", "produce_is_safe"),
    "consume_msg_s": ("consume_msg_s",),
    "safe_factor": ("safe_factor",),
    "p99_ms": ("p99_ms", "p99_rate_msg_s"),
}


def _merge(below: LaneFigures, above: LaneFigures) -> LaneFigures:
    """`below` with each group of figures `above` measured taken from `above`."""
    taken = {
        name: getattr(above, name)
        for lead, names in GROUPS.items()
        if getattr(above, lead).measured
        for name in names
    }
    return replace(below, **taken)


def _settings(text: object) -> dict[str, str]:
    return dict(item.split("=", 1) for item in str(text).split() if "=" in item)


def _label(path: Path, row: pd.Series, what: str) -> str:
    when = row.get("measured_at", "")
    return (
        f"measured here: {path}, experiment {row.get('experiment', '?')!r}, Python client, "
        f"{what}, {int(row['message_bytes'])} B messages, measured {when}"
    )


def _measured(broker: str, table: pd.DataFrame, path: Path, message_bytes: int) -> LaneFigures:
    """FALLBACK[broker] with what `table` measured of it (its figures hold for its own message
    size, not the load's, so the measured ones carry theirs)."""
    rows = table[table["broker"] == broker]
    settings = rows["settings"].map(_settings)
    key, value = ONE_LANE[broker]
    one_lane = rows[settings.map(lambda s: s.get(key) == value).astype(bool)]
    found: dict[str, Any] = {}
    produce = _at_size(one_lane[one_lane["mode"] == "produce"], message_bytes)
    if produce is not None:
        found |= _produce(broker, produce, path)
    consume = _at_size(one_lane[one_lane["mode"] == "consume"], message_bytes)
    if consume is not None:
        what = f"consume, one {LANES[broker]}"
        rate = float(consume["throughput_msg_s"])
        found["consume_msg_s"] = Figure(rate, "msg/s", _label(path, consume, what), True)
    factor = _safe_factor(broker, rows, settings, path)
    if factor is not None:
        found["safe_factor"] = factor
    return replace(FALLBACK[broker], **found, **_latency(rows, path))


def _produce(broker: str, row: pd.Series, path: Path) -> dict[str, Any]:
    """The produce rate of `row`, its MB/s, its message size and whether it ran safe."""
    rate, size = float(row["throughput_msg_s"]), int(row["message_bytes"])
    key, safe, _ = SAFE_SETTING[broker]
    return {
        "produce_msg_s": Figure(
            rate, "msg/s", _label(path, row, f"produce, one {LANES[broker]}"), True
        ),
        "mb_s": Figure(rate * size / 1e6, "MB/s", _label(path, row, "produce × size"), True),
        "message_bytes": size,
        "produce_is_safe": _settings(row["settings"]).get(key) == safe,
    }


def _latency(rows: pd.DataFrame, path: Path) -> dict[str, Any]:
    """The p99 at the highest measured rate, which stands for any rate up to it; {} if none."""
    latency = rows[rows["mode"] == "latency"]
    if not {"p99_ms", "rate_msg_s"} <= set(latency):
        return {}
    latency = latency.dropna(subset=["p99_ms", "rate_msg_s"]).sort_values("rate_msg_s")
    if latency.empty:
        return {}
    row = latency.iloc[-1]
    what = f"end-to-end p99 at {row['rate_msg_s']:,.0f} msg/s"
    p99 = Figure(float(row["p99_ms"]), "ms", _label(path, row, what), measured=True)
    return {"p99_ms": p99, "p99_rate_msg_s": float(row["rate_msg_s"])}


def _at_size(rows: pd.DataFrame, message_bytes: int) -> pd.Series | None:
    """The row of the smallest measured size at least `message_bytes` (bigger messages go
    slower: conservative), else the largest measured size; None if no row."""
    rows = rows.dropna(subset=["throughput_msg_s"])
    if rows.empty:
        return None
    at_least = rows[rows["message_bytes"] >= message_bytes]
    pool = at_least if len(at_least) else rows
    size = pool["message_bytes"].min() if len(at_least) else pool["message_bytes"].max()
    same = pool[pool["message_bytes"] == size]
    lowest: pd.Series = same.loc[same["throughput_msg_s"].idxmin()]  # conservative
    return lowest


def _safe_factor(broker: str, rows: pd.DataFrame, settings: pd.Series, path: Path) -> Figure | None:
    key, safe, fast = SAFE_SETTING[broker]
    produced = rows[rows["mode"] == "produce"]
    if "experiment" in produced:
        produced = produced[produced["experiment"] == "durability"]
    values = settings.reindex(produced.index).map(lambda s: s.get(key))
    safe_rows, fast_rows = produced[values == safe], produced[values == fast]
    if safe_rows.empty or fast_rows.empty:
        return None
    factor = safe_rows["throughput_msg_s"].median() / fast_rows["throughput_msg_s"].median()
    label = _label(path, safe_rows.iloc[0], f"produce with {key}={safe} ÷ with {key}={fast}")
    return Figure(float(factor), "safe ÷ fast", label, measured=True)
