"""Security experiments (notebook 13) on the secured brokers of `lab.brokers.secure`: who may
connect and do what, each refusal recorded as the error the broker (or the TLS handshake) gave;
what TLS costs; and a payload field encrypted end to end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException


@dataclass(frozen=True)
class Attempt:
    """One thing a client tried, and what happened: "ok", or the error it got."""

    broker: str
    attempt: str
    outcome: str

    @property
    def refused(self) -> bool:
        return self.outcome != "ok"


def attempt(broker: str, what: str, action: Callable[[], object]) -> Attempt:
    """Run `action`; its error if it raised, else "ok"."""
    try:
        action()
    except Exception as exc:
        return Attempt(broker, what, describe(exc)[:300])
    return Attempt(broker, what, "ok")


def describe(error: Exception) -> str:
    """The error's type and message; for Kafka, the error code's name and its text (e.g.
    TOPIC_AUTHORIZATION_FAILED: Broker: Topic authorization failed)."""
    if isinstance(error, KafkaException) and isinstance(error.args[0], KafkaError):
        return f"{error.args[0].name()}: {error.args[0].str()}"
    return f"{type(error).__name__}: {error}"
