"""Domain events as typed, versioned classes, and the codec that stores and reads them.

An event is a frozen dataclass that subclasses `Event`: its class name is its type, and its
`version` class attribute the version of its schema. `Codec.encode(event)` gives what the store
keeps (type, version, data); `Codec.decode(type, version, data)` reads it back as the current
class, first running the explicit upcaster registered for each older version it passes through
(v1 → v2 → ...). What is stored is never rewritten: old events stay as they were written.
Not for storage (see `store`) or for any one domain (see `bank`, `helpers.cqrs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]  # data at version n -> data at version n+1


@dataclass(frozen=True)
class Event:
    version: ClassVar[int] = 1


class Codec:
    """The event classes of one domain, and the upcasters from each older version."""

    def __init__(
        self, *classes: type[Event], upcasters: dict[tuple[str, int], Upcaster] | None = None
    ) -> None:
        self.classes = {cls.__name__: cls for cls in classes}
        self.upcasters = dict(upcasters or {})

    def encode(self, event: Event) -> tuple[str, int, dict[str, Any]]:
        return type(event).__name__, event.version, asdict(event)

    def decode(self, event_type: str, version: int, data: dict[str, Any]) -> Event:
        cls = self.classes.get(event_type)
        if cls is None:
            raise ValueError(f"unknown event type {event_type!r}: add its class to the codec")
        while version < cls.version:
            upcast = self.upcasters.get((event_type, version))
            if upcast is None:
                raise ValueError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
            data, version = upcast(dict(data)), version + 1
        return cls(**data)
