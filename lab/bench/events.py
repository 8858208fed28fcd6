"""Realistic JSON order events as benchmark payloads, for the compression measurements.

A pool of distinct events (seeded, so every run sends the same bytes), each padded to exactly the
requested size with a `notes` field of ordinary words: JSON keys repeat from event to event as
they do in a real topic, values vary. Not for the lessons' order validation (see helpers.orders).
"""

from __future__ import annotations

import functools
import json
import random
from typing import NotRequired, TypedDict

POOL = 1024
SKUS = [f"SKU-{n:05d}" for n in range(400)]
CITIES = ["Lisbon", "Berlin", "Lyon", "Leeds", "Turin", "Ghent", "Malmo", "Bergen", "Porto"]
STATUSES = ["created", "paid", "packed", "shipped", "delivered", "cancelled"]
WORDS = [
    "please",
    "leave",
    "the",
    "parcel",
    "at",
    "the",
    "door",
    "ring",
    "twice",
    "fragile",
    "glass",
    "gift",
    "wrap",
    "no",
    "invoice",
    "in",
    "the",
    "box",
    "call",
    "before",
    "delivery",
    "back",
    "entrance",
    "office",
    "hours",
    "only",
    "weekend",
    "delivery",
    "preferred",
    "thank",
    "you",
]


class Item(TypedDict):
    sku: str
    quantity: int
    unit_price: float


class Shipping(TypedDict):
    city: str
    postcode: str


class OrderEvent(TypedDict):
    type: str
    version: int
    order_id: str
    customer_id: str
    status: str
    currency: str
    items: list[Item]
    total: float
    shipping: Shipping
    placed_at: str
    notes: NotRequired[str]  # the padding, added by `pool`


def order_event(rng: random.Random, number: int) -> OrderEvent:
    items: list[Item] = [
        {
            "sku": rng.choice(SKUS),
            "quantity": rng.randint(1, 5),
            "unit_price": round(rng.uniform(2, 250), 2),
        }
        for _ in range(rng.randint(1, 4))
    ]
    return {
        "type": "OrderPlaced",
        "version": 2,
        "order_id": f"ord-{number:08d}",
        "customer_id": f"cus-{rng.randint(1, 50_000):06d}",
        "status": rng.choice(STATUSES),
        "currency": "EUR",
        "items": items,
        "total": round(sum(i["quantity"] * i["unit_price"] for i in items), 2),
        "shipping": {"city": rng.choice(CITIES), "postcode": f"{rng.randint(1000, 99999)}"},
        "placed_at": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
    }


@functools.lru_cache(maxsize=8)
def pool(size: int) -> tuple[bytes, ...]:
    """POOL distinct order events, each exactly `size` bytes of JSON."""
    rng = random.Random(size)
    events = []
    for number in range(POOL):
        event = order_event(rng, number)
        event["notes"] = ""
        text = json.dumps(event, separators=(",", ":"))
        room = size - len(text.encode())
        if room < 0:
            raise ValueError(f"an order event needs at least {len(text)} bytes, not {size}")
        notes = ""
        while len(notes) < room:
            notes += rng.choice(WORDS) + " "
        event["notes"] = notes[:room]
        encoded = json.dumps(event, separators=(",", ":")).encode()
        assert len(encoded) == size
        events.append(encoded)
    return tuple(events)
