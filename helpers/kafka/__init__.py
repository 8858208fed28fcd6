"""Kafka helpers for the notebooks (confluent-kafka): topics with unique names and clean-up,
producer/consumer factories with documented defaults, delivery-report accounting, reading a whole
topic, rebalance timelines, and the crash experiment for delivery guarantees."""

from .admin import Topics, admin_client, wait_until_ready
from .clients import (
    CONSUMER_DEFAULTS,
    PRODUCER_DEFAULTS,
    ClientStats,
    DeliveryReport,
    consume_n,
    consumer,
    flush_or_raise,
    producer,
    read_all,
)
from .deadletter import (
    DeadLetterReport,
    dead_letter_topic,
    or_dead_letter,
    process_or_dead_letter,
)
from .groups import COOPERATIVE, EAGER, rebalance_timeline
from .guarantees import committed_total, produce_numbered, progress_at_crash, run_with_crashes
from .loop import Commit, LoopReport, Output, process_batch, run

__all__ = [
    "COOPERATIVE",
    "CONSUMER_DEFAULTS",
    "EAGER",
    "PRODUCER_DEFAULTS",
    "ClientStats",
    "Commit",
    "DeadLetterReport",
    "DeliveryReport",
    "LoopReport",
    "Output",
    "Topics",
    "admin_client",
    "committed_total",
    "consume_n",
    "consumer",
    "dead_letter_topic",
    "flush_or_raise",
    "or_dead_letter",
    "process_batch",
    "process_or_dead_letter",
    "produce_numbered",
    "producer",
    "progress_at_crash",
    "read_all",
    "rebalance_timeline",
    "run",
    "run_with_crashes",
    "wait_until_ready",
]
