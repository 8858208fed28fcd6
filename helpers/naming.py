"""Names unique to one run, so notebooks can run twice in a row or side by side.

Every topic, queue, stream and consumer group a notebook creates is named with `unique_name`.
"""

from __future__ import annotations

import time
import uuid


def unique_name(prefix: str) -> str:
    """`prefix` plus a timestamp and a random suffix, e.g. 'orders-20261127T031500-3f9a1c'.

    Uses only characters that Kafka topics, RabbitMQ queues and Redis keys all accept.
    """
    if not prefix or not all(c.isalnum() or c in "-_." for c in prefix):
        raise ValueError(f"prefix {prefix!r} must be non-empty and use only letters, digits, -_.")
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
