"""What a broker's parent side hands to the process runner for one repeat, and the lifetime of
the topic, queues or streams it names. Not for running."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .settings import Settings

ProducerSpec = TypeVar("ProducerSpec")  # a broker's `*_workers.ProducerSpec`
ConsumerSpec = TypeVar("ConsumerSpec")


@dataclass
class Plan(Generic[ProducerSpec, ConsumerSpec]):
    settings: Settings  # as run (e.g. with the Redis server's AOF settings filled in)
    producer_specs: list[ProducerSpec]
    consumer_specs: list[ConsumerSpec]
    names: list[str]  # the topic, queues or streams the run used


@contextlib.contextmanager
def deleted_afterwards(
    names: list[str], delete: Callable[[list[str]], object], *, keep: bool
) -> Iterator[None]:
    """Run the block, then `delete` the repeat's topic, queues or streams, whatever happened,
    unless `keep` asks to leave them for a look."""
    try:
        yield
    finally:
        if not keep:
            delete(names)
