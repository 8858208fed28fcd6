"""CQRS for the notebooks: the Order write side (commands checked against the aggregate's events,
stored with an outbox) and the read side (a projection of those events, consumed from Kafka, into
SQLite query tables). The event store and the relay are `helpers.eventsourcing`'s."""

from .orders import ORDER_EVENTS, CreateOrder, OrderCreated, OrderService, OrderShipped, ShipOrder
from .projection import OrdersReadModel, ProjectionError, ProjectionReport, project

__all__ = [
    "ORDER_EVENTS",
    "CreateOrder",
    "OrderCreated",
    "OrderService",
    "OrderShipped",
    "OrdersReadModel",
    "ProjectionError",
    "ProjectionReport",
    "ShipOrder",
    "project",
]
