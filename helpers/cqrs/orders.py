"""The write side of CQRS: the Order's commands, the rules they are checked against, and the
events they record (`OrderCreated`, `OrderShipped`), stored with their outbox rows in one
transaction. Not for queries: the write side answers only "was the command accepted?" (the read
side is `projection`).
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.eventsourcing.errors import DomainError
from helpers.eventsourcing.events import Codec, Event
from helpers.eventsourcing.store import EventStore

# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderCreated(Event):
    customer: str
    items: int
    total_cents: int


@dataclass(frozen=True)
class OrderShipped(Event):
    pass


ORDER_EVENTS = Codec(OrderCreated, OrderShipped)

# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOrder:
    order_id: str
    customer: str
    items: int
    total_cents: int


@dataclass(frozen=True)
class ShipOrder:
    order_id: str


class OrderService:
    """Handles order commands; events go to the store and, through the outbox, to `topic`."""

    def __init__(self, store: EventStore, topic: str) -> None:
        self.store, self.topic = store, topic

    def handle(self, command: CreateOrder | ShipOrder) -> None:
        history = [recorded.event for recorded in self.store.read_stream(command.order_id)]
        last = type(history[-1]).__name__ if history else None
        if isinstance(command, CreateOrder):
            if history:
                raise DomainError(f"order {command.order_id} already exists")
            if command.items <= 0 or command.total_cents <= 0:
                raise DomainError("an order needs at least one item and a positive total")
            event: Event = OrderCreated(command.customer, command.items, command.total_cents)
        else:
            if last != "OrderCreated":
                raise DomainError(f"order {command.order_id} cannot be shipped from {last}")
            event = OrderShipped()
        self.store.append(command.order_id, [event], len(history), outbox_topic=self.topic)
