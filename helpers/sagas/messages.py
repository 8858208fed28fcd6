"""The saga's messages as a typed class: one kind per event or command, the order they are about,
and the service that sent them; written to Kafka as JSON (keyed by order id) and read back.

Events say what happened (`PaymentProcessed`); commands, in the orchestrated style, say what to do
(`ProcessPayment`). Not for the participants' rules (see `participants`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import ClassVar

from .participants import Order


class Kind(StrEnum):
    # events
    ORDER_PLACED = "OrderPlaced"
    PAYMENT_PROCESSED = "PaymentProcessed"
    PAYMENT_FAILED = "PaymentFailed"
    INVENTORY_RESERVED = "InventoryReserved"
    INVENTORY_RESERVATION_FAILED = "InventoryReservationFailed"
    PAYMENT_REFUNDED = "PaymentRefunded"
    ORDER_COMPLETED = "OrderCompleted"
    ORDER_CANCELLED = "OrderCancelled"
    # commands (orchestration)
    PROCESS_PAYMENT = "ProcessPayment"
    RESERVE_INVENTORY = "ReserveInventory"
    REFUND_PAYMENT = "RefundPayment"


@dataclass(frozen=True)
class SagaMessage:
    kind: Kind
    order: Order
    service: str = ""  # who sent it: "payment", "inventory", "order" or "orchestrator"
    version: ClassVar[int] = 1

    def answer(self, kind: Kind, service: str) -> SagaMessage:
        """The next message about the same order."""
        return SagaMessage(kind, self.order, service)

    def to_json(self) -> str:
        body = {"type": self.kind.value, "service": self.service, **asdict(self.order)}
        return json.dumps(body | {"version": self.version})

    @classmethod
    def from_json(cls, raw: str | bytes) -> SagaMessage:
        body = json.loads(raw)
        if body.pop("version", 1) != cls.version:
            raise ValueError(f"unsupported saga message version in {body}")
        kind, service = Kind(body.pop("type")), body.pop("service")
        return cls(kind, Order(**body), service)
