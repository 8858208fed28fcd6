"""Change data capture for the notebooks: the lab's PostgreSQL through psql (`database`),
Debezium's PostgreSQL connector on Kafka Connect (`connect`), its change events read back from
Kafka and checked against the table (`events`), the dual write it replaces (`dualwrite`), the
transactional outbox relayed by Debezium's outbox event router (`outbox`) beside a polling
relay (`relay`), and a read model fed by the change topic (`readmodel`).

The names below are imported on first use, so that `python -m helpers.cdc.relay` starts
without the lab's engine."""

from __future__ import annotations

import importlib
from typing import Any

_FROM = {
    "ConnectError": "connect",
    "postgres_source": "connect",
    "DatabaseError": "database",
    "Audit": "events",
    "Change": "events",
    "audit": "events",
    "end_offsets": "events",
    "read_changes": "events",
    "wait_for": "events",
}

__all__ = sorted(_FROM)


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
