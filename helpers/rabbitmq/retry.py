"""Retry with delay, built from RabbitMQ primitives: a work queue whose rejects are dead-lettered
to a retry queue, whose TTL dead-letters them back to the work queue; after `max_attempts` the
consumer parks the message in a parking-lot queue.

    work ──reject──▶ retry (TTL) ──expire──▶ work ... ──(attempts exhausted)──▶ parking lot

Not for poison messages that can never succeed: send those straight to a dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pika
from pika.adapters.blocking_connection import BlockingChannel

from helpers.deadletter import DeadLetter

from .connection import Topology
from .messages import FieldTable


@dataclass(frozen=True)
class RetryTopology:
    work_exchange: str
    work_queue: str
    retry_exchange: str
    retry_queue: str
    parking_lot: str


def declare_retry_topology(topology: Topology, base: str, delay_s: float) -> RetryTopology:
    names = RetryTopology(
        work_exchange=f"{base}.work",
        work_queue=f"{base}.work",
        retry_exchange=f"{base}.retry",
        retry_queue=f"{base}.retry",
        parking_lot=f"{base}.parking-lot",
    )
    topology.exchange(names.work_exchange, "direct")
    topology.exchange(names.retry_exchange, "direct")
    topology.queue(names.work_queue, arguments={"x-dead-letter-exchange": names.retry_exchange})
    topology.queue(
        names.retry_queue,
        arguments={
            "x-message-ttl": int(delay_s * 1000),  # RabbitMQ takes milliseconds
            "x-dead-letter-exchange": names.work_exchange,
        },
    )
    topology.queue(names.parking_lot)
    # The routing key survives dead-lettering, so one key routes the message around the loop.
    topology.bind(names.work_queue, names.work_exchange, routing_key="task")
    topology.bind(names.retry_queue, names.retry_exchange, routing_key="task")
    return names


def attempts_so_far(headers: FieldTable | None, work_queue: str) -> int:
    """How many times this message was already rejected from `work_queue`, from `x-death`."""
    for death in (headers or {}).get("x-death", []):
        if death.get("queue") == work_queue and death.get("reason") == "rejected":
            return int(death.get("count", 0))
    return 0


@dataclass
class RetryReport:
    attempts: list[dict[str, object]] = field(default_factory=list)  # one row per delivery
    succeeded: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)


def process_with_retries(
    channel: BlockingChannel,
    names: RetryTopology,
    handler: Callable[[bytes, int], None],
    *,
    max_attempts: int,
    expected: int,
    clock: Callable[[], float],
    timeout_s: float = 30.0,
) -> RetryReport:
    """Consume the work queue until `expected` messages succeeded or were parked.

    handler(body, attempt) raises to fail an attempt. A failed message is rejected (to the retry
    queue) until its `max_attempts`-th attempt, then copied to the parking lot and acked.
    """
    log = RetryReport()
    channel.confirm_delivery()
    for method, props, body in channel.consume(names.work_queue, inactivity_timeout=timeout_s):
        if method is None:
            raise TimeoutError(f"no message for {timeout_s} s; {log.succeeded=} {log.parked=}")
        attempt = attempts_so_far(props.headers, names.work_queue) + 1
        row: dict[str, object] = {
            "message_id": props.message_id,
            "attempt": attempt,
            "at_s": clock(),
        }
        try:
            handler(body, attempt)
            row["outcome"] = "succeeded"
            log.succeeded.append(props.message_id)
            channel.basic_ack(method.delivery_tag)
        except Exception as exc:
            if attempt >= max_attempts:
                row["outcome"] = "parked"
                letter = DeadLetter.of(exc, names.work_queue, props.message_id, attempt)
                letter = replace(letter, reason="attempts-exhausted")
                headers = {**(props.headers or {}), **letter.fields()}
                parked = pika.BasicProperties(message_id=props.message_id, headers=headers)
                channel.basic_publish("", names.parking_lot, body, parked)  # confirmed
                log.parked.append(props.message_id)
                channel.basic_ack(method.delivery_tag)
            else:
                row["outcome"] = f"failed: {exc}"
                channel.basic_reject(method.delivery_tag, requeue=False)  # → retry queue
        log.attempts.append(row)
        if len(log.succeeded) + len(log.parked) >= expected:
            break
    channel.cancel()
    return log
