"""The order saga as choreography: three services that only react to each other's events on one
Kafka topic (keyed by order id, so one order's events stay in order). Nobody is in charge:

    OrderPlaced ─▶ payment ─▶ PaymentProcessed ─▶ inventory ─▶ InventoryReserved ─▶ order: completed
                        └─▶ PaymentFailed ─▶ order: CancelOrder
                      InventoryReservationFailed ─▶ payment: RefundPayment  +  order: CancelOrder

Each service is its own consumer group, in its own thread, and commits after publishing its
reactions. Not for the orchestrated version (see `orchestrator`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from helpers.kafka import Output, consumer, flush_or_raise, producer, run
from helpers.kafka.records import Record, value_of

from .messages import Kind, SagaMessage
from .participants import Inventory, Order, Payments

Reactor = Callable[[SagaMessage], list[SagaMessage]]


def payment_service(payments: Payments) -> Reactor:
    def react(m: SagaMessage) -> list[SagaMessage]:
        if m.kind == Kind.ORDER_PLACED:
            paid = payments.charge(m.order.order_id, m.order.amount_cents)
            return [m.answer(Kind.PAYMENT_PROCESSED if paid else Kind.PAYMENT_FAILED, "payment")]
        if m.kind == Kind.INVENTORY_RESERVATION_FAILED:
            payments.refund(m.order.order_id)  # compensation: RefundPayment
            return [m.answer(Kind.PAYMENT_REFUNDED, "payment")]
        return []

    return react


def inventory_service(inventory: Inventory) -> Reactor:
    def react(m: SagaMessage) -> list[SagaMessage]:
        if m.kind == Kind.PAYMENT_PROCESSED:
            reserved = inventory.reserve(m.order.order_id, m.order.quantity)
            kind = Kind.INVENTORY_RESERVED if reserved else Kind.INVENTORY_RESERVATION_FAILED
            return [m.answer(kind, "inventory")]
        return []

    return react


def order_service(status: dict[str, str], seen: Counter[Kind]) -> Reactor:
    def react(m: SagaMessage) -> list[SagaMessage]:
        seen[m.kind] += 1  # the order service sees every event: it tells when sagas are over
        if status.get(m.order.order_id) != "pending":
            return []  # already final: a duplicate event changes nothing
        if m.kind == Kind.INVENTORY_RESERVED:
            status[m.order.order_id] = "completed"
            return [m.answer(Kind.ORDER_COMPLETED, "order")]
        if m.kind in (Kind.PAYMENT_FAILED, Kind.INVENTORY_RESERVATION_FAILED):
            status[m.order.order_id] = "cancelled"  # compensation: CancelOrder
            return [m.answer(Kind.ORDER_CANCELLED, "order")]
        return []

    return react


def _run_service(
    topic: str, group: str, react: Reactor, stop: threading.Event, url: str | None
) -> None:
    """One service: its own consumer group on the events topic; its reactions are acknowledged
    before the event that caused them counts as handled (commit "after")."""

    def handle(message: Record) -> list[Output]:
        reactions = react(SagaMessage.from_json(value_of(message)))
        return [Output(topic, r.to_json(), key=r.order.order_id) for r in reactions]

    source = consumer(group, url)
    source.subscribe([topic])
    run(source, handle, sink=producer(url), commit="after", stop=stop)


def run_choreography(
    topic: str,
    orders: list[Order],
    payments: Payments,
    inventory: Inventory,
    *,
    url: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, str]:
    """Place every order and let the services react until each order is final; its status."""
    status, seen = {o.order_id: "pending" for o in orders}, Counter[Kind]()
    stop = threading.Event()
    services = {
        "payment": payment_service(payments),
        "inventory": inventory_service(inventory),
        "order": order_service(status, seen),
    }
    threads = [
        threading.Thread(target=_run_service, args=(topic, f"{topic}.{name}", react, stop, url))
        for name, react in services.items()
    ]
    for thread in threads:
        thread.start()
    placer = producer(url)
    for o in orders:
        placer.produce(
            topic, key=o.order_id, value=SagaMessage(Kind.ORDER_PLACED, o, "order").to_json()
        )
    flush_or_raise(placer)
    deadline = time.monotonic() + timeout_s
    # Over when every order is final and every failed reservation's refund has been published.
    while time.monotonic() < deadline and (
        "pending" in status.values()
        or seen[Kind.PAYMENT_REFUNDED] < seen[Kind.INVENTORY_RESERVATION_FAILED]
    ):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return status
