"""The type of what a consumer hands the lab's code: a record, never an error event.

`Consumer.consume` returns `confluent_kafka.Message`s of two sorts: records, and events whose
`error()` is set (a partition end, a broker down). Its stubs type `topic()`, `partition()` and
`offset()` Optional to cover both; a record always has all three. `records` keeps the records and
gives them the `Record` type, so the code that handles them needs no None checks.
"""

from __future__ import annotations

from typing import Protocol, cast

from confluent_kafka import Message

from helpers.orders import MalformedMessage

Headers = list[tuple[str, str | bytes | None]]  # as `Producer.produce` takes them


class Record(Protocol):
    """A consumed `confluent_kafka.Message` whose `error()` is None."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...  # None: a tombstone
    def headers(self) -> Headers | None: ...


def records(messages: list[Message]) -> list[Record]:
    """The records among what `consume` returned, in order, without the error events."""
    return cast(list[Record], [m for m in messages if not m.error()])


def value_of(record: Record) -> bytes:
    """The record's value; MalformedMessage for a tombstone (no value), where one is not
    expected: the lab's event and command topics never carry any."""
    value = record.value()
    if value is None:
        raise MalformedMessage(
            f"a tombstone at {record.topic()} {record.partition()}:{record.offset()}"
        )
    return value
