"""One dead-letter vocabulary for every broker: why a message was set aside, and where from.

The same five fields travel as RabbitMQ headers, Kafka headers and Redis stream fields, so a
dead-letter queue, topic or stream reads the same everywhere:

- `dead-letter.reason`   a short category: malformed, failed, attempts-exhausted, delivery-limit
- `dead-letter.error`    what the handler raised: "ExceptionType: message"
- `dead-letter.source`   the queue, topic or stream it was taken from
- `dead-letter.position` where in the source: Kafka "partition:offset", a Redis entry id, a
                         RabbitMQ message id
- `dead-letter.attempts` how many times it was delivered before it was set aside

Not for moving messages: each broker's helpers do that (and RabbitMQ's own `x-death` header,
which the broker adds when it dead-letters by itself, is left as it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from helpers.orders import MalformedMessage

PREFIX = "dead-letter."


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    error: str
    source: str
    position: str
    attempts: int = 1

    @classmethod
    def of(cls, exc: BaseException, source: str, position: str, attempts: int = 1) -> DeadLetter:
        """The dead letter for a message whose handler raised `exc`."""
        reason = "malformed" if isinstance(exc, MalformedMessage) else "failed"
        return cls(reason, f"{type(exc).__name__}: {exc}", source, position, attempts)

    def fields(self) -> dict[str, str]:
        """As RabbitMQ headers or Redis stream fields."""
        return {
            f"{PREFIX}reason": self.reason,
            f"{PREFIX}error": self.error,
            f"{PREFIX}source": self.source,
            f"{PREFIX}position": self.position,
            f"{PREFIX}attempts": str(self.attempts),
        }

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [(key, value.encode()) for key, value in self.fields().items()]

    @classmethod
    def read(cls, fields: Mapping[str, object] | list[tuple[str, bytes]]) -> DeadLetter:
        """From headers or fields as they come back from any of the three brokers."""
        items = fields.items() if isinstance(fields, Mapping) else fields
        found = {
            key.removeprefix(PREFIX): value.decode() if isinstance(value, bytes) else str(value)
            for key, value in items
            if key.startswith(PREFIX)
        }
        return cls(
            found["reason"],
            found["error"],
            found["source"],
            found["position"],
            int(found["attempts"]),
        )
