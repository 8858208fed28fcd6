"""The model answers of notebook 19's design rounds as pictures, drawn with the numbers the
calculator proposed (partitions, queues, consumers), so the picture and the sizing agree.

Not for sizing (see `calculator`) or for drawing a broker's live state (see `helpers.diagrams`).
"""

from __future__ import annotations

from helpers.diagrams.picture import Diagram

from .calculator import Proposal
from .drawing import design


def order_pipeline(plan: Proposal) -> Diagram:
    consumers = f"{plan.consumers_per_group} consumers, transactional"
    return design(
        "Order pipeline (Kafka)",
        [
            ("shop", ["order service", "order + outbox row, one DB transaction"], "service"),
            ("orders", ["orders topic", f"{plan.lanes} partitions, key = order_id, RF 3"], "log"),
            ("pay", ["payment service", consumers], "service"),
            ("psp", ["payment provider", "idempotency key = payment id"], "store"),
            ("payments", ["payments topic", "read_committed readers"], "log"),
            ("others", ["inventory, notifications", "one group each"], "service"),
        ],
        [
            ("shop", "orders", "outbox relay"),
            ("orders", "pay", ""),
            ("pay", "psp", "charge"),
            ("pay", "payments", "in the transaction"),
            ("payments", "others", ""),
        ],
    )


def notification_fan_out(plan: Proposal) -> Diagram:
    senders = f"{plan.groups} groups × {plan.consumers_per_group} consumers"
    return design(
        "Notification fan-out (Kafka)",
        [
            ("sources", ["order events", "campaign expansion job"], "service"),
            ("topic", ["notifications topic", f"{plan.lanes} partitions, key = user_id"], "log"),
            ("senders", ["push, e-mail, SMS senders", senders], "service"),
            ("sent", ["ids sent (kept a day)"], "store"),
            ("retry", ["retry topic, then dead-letter topic"], "log"),
        ],
        [
            ("sources", "topic", ""),
            ("topic", "senders", "each group: every message"),
            ("senders", "sent", "skip if sent"),
            ("senders", "retry", "provider refused"),
        ],
    )


def audit_log(plan: Proposal, retention_days: int) -> Diagram:
    kept = f"{plan.kept_gb / 1000:,.1f} TB with replicas, before compression"
    return design(
        "Audit log (Kafka)",
        [
            ("services", ["every service", "acks=all, WRITE only"], "service"),
            (
                "audit",
                ["audit topic", f"{plan.lanes} partitions, RF 3, {retention_days} days", kept],
                "log",
            ),
            ("index", ["search indexer"], "service"),
            ("archive", ["archive writer"], "service"),
            ("replay", ["a new group", "from the earliest offset"], "service"),
        ],
        [
            ("services", "audit", ""),
            ("audit", "index", ""),
            ("audit", "archive", ""),
            ("audit", "replay", "replay"),
        ],
    )


def telemetry(plan: Proposal, devices: int) -> Diagram:
    topic = f"{plan.lanes} partitions, key = device_id"
    return design(
        "IoT telemetry (Kafka)",
        [
            ("devices", [f"{devices:,} devices", "MQTT"], "service"),
            ("gateways", ["MQTT gateways", "batch, compress, acks=1"], "service"),
            ("telemetry", ["telemetry topic", topic], "log"),
            ("alerts", ["alerting", f"{plan.consumers_per_group} consumers"], "service"),
            ("tsdb", ["time-series loader", "may lag"], "service"),
        ],
        [
            ("devices", "gateways", ""),
            ("gateways", "telemetry", ""),
            ("telemetry", "alerts", "p99 < 1 s"),
            ("telemetry", "tsdb", ""),
        ],
    )


def job_queue(plan: Proposal) -> Diagram:
    return design(
        "Job queue (RabbitMQ)",
        [
            ("api", ["upload API", "publisher confirms"], "service"),
            ("jobs", ["jobs", "classic queue, x-max-priority=3", f"queues: {plan.lanes}"], "log"),
            (
                "workers",
                [f"{plan.consumers_per_group} workers", "prefetch 1, ack after"],
                "service",
            ),
            ("retry", ["jobs.retry", "TTL, dead-letters back"], "log"),
            ("dead", ["jobs.dead", "for a human"], "log"),
        ],
        [
            ("api", "jobs", "priority 0-3"),
            ("jobs", "workers", ""),
            ("workers", "retry", "failed"),
            ("retry", "jobs", "after the TTL"),
            ("workers", "dead", "last attempt"),
        ],
    )
