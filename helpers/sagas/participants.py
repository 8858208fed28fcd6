"""The saga's participants, shared by choreography and orchestration: a payment service and an
inventory service, each idempotent (a repeated request for the same order gets the same answer and
no second effect), with failures injected at configurable rates.

Failures are decided by a seeded hash of (order, step), so a run is reproducible and both saga
styles see the same failures for the same orders. Not for messaging (see `choreography`,
`orchestrator`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    amount_cents: int
    quantity: int


def injected_failure(seed: int, order_id: str, step: str, rate: float) -> bool:
    return random.Random(f"{seed}:{order_id}:{step}").random() < rate


def answer_once(
    lock: threading.Lock,
    granted: dict[str, int],
    refused: set[str],
    order_id: str,
    value: int,
    accept: Callable[[], bool],
) -> bool:
    """A participant's idempotent answer to an order's request: the first time, `accept` decides
    (and makes its effect) and the answer is remembered, with `value` when granted; a repeated
    request gets the same answer and no second effect. True if granted."""
    with lock:
        if order_id in granted or order_id in refused:
            return order_id in granted  # a repeated request: same answer, no new effect
        if not accept():
            refused.add(order_id)
            return False
        granted[order_id] = value
        return True


@dataclass
class Payments:
    failure_rate: float
    seed: int = 0
    charges: dict[str, int] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)
    declined: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charge(self, order_id: str, amount_cents: int) -> bool:
        """ProcessPayment. True if the order is (now or already) paid."""
        return answer_once(
            self.lock,
            self.charges,
            self.declined,
            order_id,
            amount_cents,
            accept=lambda: not injected_failure(self.seed, order_id, "payment", self.failure_rate),
        )

    def refund(self, order_id: str) -> None:
        """RefundPayment (a compensation). Refunds at most once, and only what was charged."""
        with self.lock:
            if order_id in self.charges and order_id not in self.refunds:
                self.refunds[order_id] = self.charges[order_id]


@dataclass
class Inventory:
    stock: int
    failure_rate: float
    seed: int = 0
    reservations: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, order_id: str, quantity: int) -> bool:
        """ReserveInventory. True if the stock is (now or already) reserved for the order."""

        def take_stock() -> bool:
            failed = injected_failure(self.seed, order_id, "inventory", self.failure_rate)
            if failed or quantity > self.stock:
                return False
            self.stock -= quantity
            return True

        return answer_once(
            self.lock, self.reservations, self.refused, order_id, quantity, take_stock
        )
