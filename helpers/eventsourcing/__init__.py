"""Event sourcing building blocks for the notebooks: an SQLite event store with optimistic
concurrency, snapshots, upcasting and a transactional outbox; the BankAccount aggregate and its
repository; the outbox relay to Kafka."""

from .bank import AccountRepository, BankAccount, DomainError, upcast_deposit_v1
from .outbox import relay_once
from .store import ConcurrencyError, EventStore, NewEvent, RecordedEvent

__all__ = [
    "AccountRepository",
    "BankAccount",
    "ConcurrencyError",
    "DomainError",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "relay_once",
    "upcast_deposit_v1",
]
