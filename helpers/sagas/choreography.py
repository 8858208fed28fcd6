"""The order saga as choreography: three services that only react to each other's events on one
Kafka topic (keyed by order id, so one order's events stay in order). Nobody is in charge:

    OrderPlaced ─▶ payment ─▶ PaymentProcessed ─▶ inventory ─▶ InventoryReserved ─▶ order: completed
                        └─▶ PaymentFailed ─▶ order: CancelOrder
                      InventoryReservationFailed ─▶ payment: RefundPayment  +  order: CancelOrder

Each service is its own consumer group, in its own thread, and commits after publishing its
reactions. Not for the orchestrated version (see `orchestrator`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable

from confluent_kafka import Message

from helpers.kafka import Output, consumer, flush_or_raise, producer, run

from .participants import Inventory, Order, Payments

Event = dict
Reactor = Callable[[Event], list[Event]]


def event(kind: str, order: Event, service: str) -> Event:
    keep = ("order_id", "customer", "amount_cents", "quantity")
    return {"type": kind, "service": service, **{k: order[k] for k in keep}}


def payment_service(payments: Payments) -> Reactor:
    def react(e: Event) -> list[Event]:
        if e["type"] == "OrderPlaced":
            paid = payments.charge(e["order_id"], e["amount_cents"])
            return [event("PaymentProcessed" if paid else "PaymentFailed", e, "payment")]
        if e["type"] == "InventoryReservationFailed":
            payments.refund(e["order_id"])  # compensation
            return [event("PaymentRefunded", e, "payment")]
        return []

    return react


def inventory_service(inventory: Inventory) -> Reactor:
    def react(e: Event) -> list[Event]:
        if e["type"] == "PaymentProcessed":
            reserved = inventory.reserve(e["order_id"], e["quantity"])
            kind = "InventoryReserved" if reserved else "InventoryReservationFailed"
            return [event(kind, e, "inventory")]
        return []

    return react


def order_service(status: dict[str, str], seen: Counter) -> Reactor:
    def react(e: Event) -> list[Event]:
        seen[e["type"]] += 1  # the order service sees every event: it tells when sagas are over
        if status.get(e["order_id"]) != "pending":
            return []  # already final: a duplicate event changes nothing
        if e["type"] == "InventoryReserved":
            status[e["order_id"]] = "completed"
            return [event("OrderCompleted", e, "order")]
        if e["type"] in ("PaymentFailed", "InventoryReservationFailed"):
            status[e["order_id"]] = "cancelled"  # compensation: CancelOrder
            return [event("OrderCancelled", e, "order")]
        return []

    return react


def _run_service(topic: str, group: str, react: Reactor, stop: threading.Event, url) -> None:
    """One service: its own consumer group on the events topic; its reactions are acknowledged
    before the event that caused them counts as handled (commit "after")."""

    def handle(message: Message) -> list[Output]:
        reactions = react(json.loads(message.value()))
        return [Output(topic, json.dumps(r), key=r["order_id"]) for r in reactions]

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
    status, seen = {o.order_id: "pending" for o in orders}, Counter()
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
        placed = {"type": "OrderPlaced", "service": "order", **o.__dict__}
        placer.produce(topic, key=o.order_id, value=json.dumps(placed))
    flush_or_raise(placer)
    deadline = time.monotonic() + timeout_s
    # Over when every order is final and every failed reservation's refund has been published.
    while time.monotonic() < deadline and (
        "pending" in status.values() or seen["PaymentRefunded"] < seen["InventoryReservationFailed"]
    ):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return status
