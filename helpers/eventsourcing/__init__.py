"""Event sourcing building blocks for the notebooks: an SQLite event store with optimistic
concurrency, snapshots, upcasting and a transactional outbox; the BankAccount aggregate and its
repository; the outbox relay to Kafka; the Order write side and its read-model projection."""

from .bank import AccountRepository, BankAccount, DomainError, upcast_deposit_v1
from .orders import CreateOrder, OrderService, ShipOrder
from .projection import OrdersReadModel, ProjectionError, project
from .relay import relay_once, relay_until, start_relay
from .store import ConcurrencyError, EventStore, NewEvent, RecordedEvent

__all__ = [
    "AccountRepository",
    "BankAccount",
    "ConcurrencyError",
    "CreateOrder",
    "DomainError",
    "EventStore",
    "NewEvent",
    "OrderService",
    "OrdersReadModel",
    "ProjectionError",
    "RecordedEvent",
    "ShipOrder",
    "project",
    "relay_once",
    "relay_until",
    "start_relay",
    "upcast_deposit_v1",
]
