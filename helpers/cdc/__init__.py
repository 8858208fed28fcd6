"""Change data capture for the notebooks: the lab's PostgreSQL through psql (`database`),
Debezium's PostgreSQL connector on Kafka Connect (`connect`), its change events read back from
Kafka and checked against the table (`events`), the dual write it replaces (`dualwrite`), and
the transactional outbox relayed by Debezium's outbox event router (`outbox`)."""

from .connect import ConnectError, postgres_source
from .database import DatabaseError
from .events import Audit, Change, audit, end_offsets, read_changes, wait_for

__all__ = [
    "Audit",
    "Change",
    "ConnectError",
    "DatabaseError",
    "audit",
    "end_offsets",
    "postgres_source",
    "read_changes",
    "wait_for",
]
