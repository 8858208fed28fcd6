"""The Order aggregate and its command handler, for the CQRS lesson: the *write* side.

Commands (`CreateOrder`, `ShipOrder`) are checked against the order's events and produce new ones
(`OrderCreated`, `OrderShipped`), stored with their outbox rows in one transaction. The read side
lives in `projection`. Not for queries: the write side answers only "was the command accepted?".
"""

from __future__ import annotations

from dataclasses import dataclass

from .bank import DomainError
from .store import EventStore, NewEvent


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
        history = self.store.read_stream(command.order_id)
        status = history[-1].type if history else None
        if isinstance(command, CreateOrder):
            if status is not None:
                raise DomainError(f"order {command.order_id} already exists")
            if command.items <= 0 or command.total_cents <= 0:
                raise DomainError("an order needs at least one item and a positive total")
            event = NewEvent(
                "OrderCreated",
                {
                    "customer": command.customer,
                    "items": command.items,
                    "total_cents": command.total_cents,
                },
            )
        else:
            if status != "OrderCreated":
                raise DomainError(f"order {command.order_id} cannot be shipped from {status}")
            event = NewEvent("OrderShipped", {})
        self.store.append(command.order_id, [event], len(history), outbox_topic=self.topic)
