"""Redis Streams helpers for the notebooks (redis-py): clients and groups, adding entries, an
acking consumer loop, a recoverer that claims stuck entries (XAUTOCLAIM) and dead-letters the ones
that keep failing, lag monitoring, and a consumer process that can be SIGKILLed.

The raw redis-py calls (XADD, XREADGROUP, XACK, XPENDING...) stay visible in the notebooks where
they are the lesson; these modules hold the loops around them. Not for Kafka or RabbitMQ.
"""

from .connection import client, create_group
from .consumers import ConsumeReport, Handler, consume
from .entries import add_entries, produce_at_rate, xadd_rate
from .monitoring import disk_bytes_written, lag_timeline
from .recovery import RecoveryReport, dead_letter, recover
from .worker import process_order, start_worker

__all__ = [
    "ConsumeReport",
    "Handler",
    "RecoveryReport",
    "add_entries",
    "client",
    "consume",
    "create_group",
    "dead_letter",
    "disk_bytes_written",
    "lag_timeline",
    "process_order",
    "produce_at_rate",
    "recover",
    "start_worker",
    "xadd_rate",
]
