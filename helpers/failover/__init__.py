"""Replication and failover experiments on the lab's three-node clusters (notebook 11): Kafka
producers with each acks setting through a leader that hangs and dies, followers frozen,
RabbitMQ quorum and classic queues losing a node, Redis failed over by Sentinel. Each module
drives the real cluster through `lab.brokers.cluster`: `failover.kafka`, `failover.rabbitmq`,
`failover.redis`, and `failover.progress` for the status lines."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import kafka, progress, rabbitmq, redis

__all__ = ["kafka", "progress", "rabbitmq", "redis", "side_by_side"]


def side_by_side(
    kafka_kill: pd.DataFrame,
    kafka_alone: pd.DataFrame,
    rabbit: dict[str, Any],
    redis_load: dict[str, Any],
    redis_cut: pd.DataFrame,
) -> pd.DataFrame:
    """Notebook 11's results in one table: per setting, seconds to a new leader, the longest
    client stall, and acknowledged-then-lost when the leader died under load and when it died
    alone in sync (Kafka: `kafka_alone`'s rows named "acks=1, min ISR 2" and "acks=all, min
    ISR 2"; Redis: min-replicas-to-write 0)."""
    rows = {
        f"Kafka {label}, min ISR 2": {
            "new_leader_after_s": kafka_kill.loc[label, "new_leader_after_s"],
            "client_stall_s": kafka_kill.loc[label, "longest_stall_s"],
            "acked_then_lost": kafka_kill.loc[label, "acked_then_lost"],
            "acked_then_lost_when_alone": kafka_alone["acked_then_lost"].get(f"{label}, min ISR 2"),
        }
        for label in kafka_kill.index
    }
    rows["RabbitMQ quorum queue"] = {
        "new_leader_after_s": rabbit["first_confirm_after_kill_s"],
        "client_stall_s": rabbit["longest_stall_s"],
        "acked_then_lost": rabbit["confirmed_then_lost"],
    }
    rows["Redis + Sentinel"] = {
        "new_leader_after_s": redis_cut.loc[0, "failover_s"],
        "client_stall_s": redis_load["writes_stalled_s"],
        "acked_then_lost": redis_load["acked_then_lost"],
        "acked_then_lost_when_alone": redis_cut.loc[0, "acked_then_lost"],
    }
    return pd.DataFrame(rows).T.astype(float)
