"""The broker comparison table as revision notes commonly give it ("Medium", "Very High", "High"
throughput; "Optional" or "Always" persistence; ...), regenerated from measurements: each cell
beside what this machine measured, the settings that produced it, and whether it holds here.

Only what the harness can measure decides "holds here": throughput ranks (each broker's best
producer figure from either client, both run with one and the same settings: see `comparable`,
with the date the figures were measured), whether both durability modes ran and what the safer one
cost, and lost/duplicated/out-of-order counts over every verified run. What needs a crash or a
cluster to show says where it is shown instead.
Not for measuring (see `run`, `native`).
"""

from __future__ import annotations

import pandas as pd

BROKERS = ["rabbitmq", "kafka", "redis"]
NAMES = {"rabbitmq": "RabbitMQ", "kafka": "Kafka", "redis": "Redis Streams"}

# The usual "message broker comparison" table's cells, as revision notes state them.
CLAIMED = {
    "Throughput": {"rabbitmq": "Medium", "kafka": "Very High", "redis": "High"},
    "Persistence": {"rabbitmq": "Optional", "kafka": "Always", "redis": "Optional"},
    "Delivery": {
        "rabbitmq": "At-least-once",
        "kafka": "At-least-once / exactly-once",
        "redis": "At-least-once",
    },
    "Ordering": {"rabbitmq": "Per queue", "kafka": "Per partition", "redis": "Per stream"},
}
THROUGHPUT_RANK = {"Very High": 1, "High": 2, "Medium": 3}
LANES = {"rabbitmq": "queue", "kafka": "partition", "redis": "stream"}
ELSEWHERE = {
    "kafka": "transactions under a SIGKILL: notebook 04",
    "rabbitmq": "acks under a SIGKILL: notebook 01",
    "redis": "pending entries after a SIGKILL: notebook 05",
}


def comparison(
    hundred_bytes: pd.DataFrame, durability: dict[str, pd.DataFrame], everything: pd.DataFrame
) -> pd.DataFrame:
    """One row per (aspect, broker): the table's usual cell (`claimed`), the measurement, its
    settings, and whether the cell holds on this machine.

    `hundred_bytes`: summary rows of the 100-byte comparison (python and native, default
    settings); `durability`: per broker, summary rows of the fast and the safe setting;
    `everything`: every result row of the notebook (for counts).
    """
    rows = []
    for broker in BROKERS:
        rows += [
            _throughput(broker, hundred_bytes),
            _persistence(broker, durability[broker]),
            _delivery(broker, everything),
            _ordering(broker, everything),
        ]
    table = pd.DataFrame(rows)
    table["broker"] = table["broker"].map(NAMES)
    return table.set_index(["aspect", "broker"]).sort_index(level=0, sort_remaining=False)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The 100-byte producer rows of a summary that a throughput ranking may use: per broker,
    one settings line only, the one run by both clients (a native row that ran what its settings
    say) with the most repeats; a broker without a native row keeps its Python row of the most
    repeats. Rows of other settings (more producers, other acks, ...) never enter the ranking.
    With an `experiment` column, only the 100-byte comparison's rows are candidates."""
    rows = table[(table["mode"] == "produce") & (table["message_bytes"] == 100)]
    if "experiment" in rows and (rows["experiment"] == "100-byte comparison").any():
        rows = rows[rows["experiment"] == "100-byte comparison"]
    unlike = rows.get("unlike_settings", pd.Series("", index=rows.index)).fillna("")
    usable = rows[(rows["client"] == "python") | ((rows["client"] == "native") & (unlike == ""))]
    chosen = []
    for _, mine in usable.groupby("broker", sort=False):
        both = mine.groupby("settings")["client"].nunique()
        candidates = mine[mine["settings"].isin(both[both == both.max()].index)]
        repeats = candidates.groupby("settings", sort=False)["repeats"].sum()
        chosen.append(candidates[candidates["settings"] == repeats.idxmax()])
    return pd.concat(chosen) if chosen else rows.iloc[:0]


def best_throughput(table: pd.DataFrame) -> pd.Series:
    """Per broker, the producer figure (msg/s) the ranking uses: its own tool's, which measures
    the broker; the Python client's only where the broker has no native row."""
    rows = comparable(table)
    native = rows[rows["client"] == "native"].groupby("broker")["throughput_msg_s"].max()
    python = rows[rows["client"] == "python"].groupby("broker")["throughput_msg_s"].max()
    return native.combine_first(python)


def measured_on(table: pd.DataFrame) -> str:
    """When the rows were measured (their latest `measured_at`), or "date unknown"."""
    dates = table.get("measured_at", pd.Series(dtype=str)).dropna().astype(str)
    dates = dates[dates != ""]
    return str(dates.max()) if len(dates) else "date unknown"


def _row(aspect: str, broker: str, measured: str, settings: str, holds: str) -> dict[str, str]:
    return {
        "aspect": aspect,
        "broker": broker,
        "claimed": CLAIMED[aspect][broker],
        "measured here": measured,
        "holds here": holds,
        "settings": settings,
    }


def _throughput(broker: str, table: pd.DataFrame) -> dict[str, str]:
    # Ranked by each broker's own tool, which measures the broker; the Python figure beside it is
    # what a Python client reaches (on 2 cores, pika is the bottleneck, not RabbitMQ).
    rows = comparable(table)
    ranked = best_throughput(table).rank(ascending=False)
    mine = rows[rows["broker"] == broker].set_index("client")
    per_s = mine["throughput_msg_s"]  # by client
    ranked_by = "native" if "native" in per_s else "python"
    figures = ", ".join(f"{per_s[c]:,.0f} msg/s {c}" for c in ("native", "python") if c in per_s)
    measured = (
        f"{figures} (100 B, produce; ranked by the {ranked_by} figure; measured "
        f"{measured_on(rows)})"
    )
    expected = THROUGHPUT_RANK[CLAIMED["Throughput"][broker]]
    place = int(ranked[broker])
    holds = f"yes: {_ordinal(place)} of 3" if place == expected else f"no: {_ordinal(place)} of 3"
    return _row("Throughput", broker, measured, str(mine["settings"].iloc[0]), holds)


def _persistence(broker: str, table: pd.DataFrame) -> dict[str, str]:
    produced = table[(table["mode"] == "produce") & (table["client"] == "python")]
    fast, safe = produced.iloc[0], produced.iloc[-1]
    factor = fast["throughput_msg_s"] / safe["throughput_msg_s"]
    measured = (
        f"{safe['throughput_msg_s']:,.0f} msg/s safe vs {fast['throughput_msg_s']:,.0f} fast "
        f"(÷{factor:.1f})"
    )
    changed = " ".join(sorted(set(safe["settings"].split()) - set(fast["settings"].split())))
    if broker == "kafka":
        # A topic is always a log on disk; the broker leaves fsync to the OS by default
        # (log.flush.interval.messages unset) and acks decide when the producer hears back.
        holds = "yes, as a log: no in-memory mode (fsync is left to the OS)"
    else:
        holds = "yes: both ran and verified" if bool(table["verified"].all()) else "no"
    return _row("Persistence", broker, measured, f"safe = {changed}", holds)


def _delivery(broker: str, rows: pd.DataFrame) -> dict[str, str]:
    mine = rows[(rows["broker"] == broker) & (rows["client"] == "python")]
    lost, duplicated = int(mine["missing"].sum()), int(mine["duplicates"].sum())
    measured = (
        f"{len(mine)} runs, {int(mine['sent'].sum()):,} messages: {lost} lost, "
        f"{duplicated} duplicated"
    )
    holds = "consistent (no crash here)" if lost == duplicated == 0 else "no"
    return _row("Delivery", broker, measured, f"crashes: {ELSEWHERE[broker]}", holds)


def _ordering(broker: str, rows: pd.DataFrame) -> dict[str, str]:
    mine = rows[(rows["broker"] == broker) & (rows["client"] == "python")]
    disorder = int(mine["out_of_order"].sum())
    lane = LANES[broker]
    measured = (
        f"{disorder} out of order per {lane} and producer, over {int(mine['received'].sum()):,}"
    )
    return _row(
        "Ordering", broker, measured, f"checked per {lane}", "yes" if disorder == 0 else "no"
    )


def _ordinal(place: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}[place]
