"""Event sourcing building blocks for the notebooks: typed, versioned events and their codec; an
SQLite event store with optimistic concurrency, snapshots, upcasting and a transactional outbox;
the BankAccount aggregate and its repository; the outbox relay to Kafka. CQRS is `helpers.cqrs`."""

from .bank import (
    BANK_EVENTS,
    AccountOpened,
    AccountRepository,
    BankAccount,
    MoneyDeposited,
    MoneyWithdrawn,
    upcast_deposit_v1,
)
from .errors import ConcurrencyError, DomainError
from .events import Codec, Event
from .relay import relay_once, relay_until, start_relay
from .store import EventStore, RecordedEvent, StoredEvent

__all__ = [
    "BANK_EVENTS",
    "AccountOpened",
    "AccountRepository",
    "BankAccount",
    "Codec",
    "ConcurrencyError",
    "DomainError",
    "Event",
    "EventStore",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "RecordedEvent",
    "StoredEvent",
    "relay_once",
    "relay_until",
    "start_relay",
    "upcast_deposit_v1",
]
