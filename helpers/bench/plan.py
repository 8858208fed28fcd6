"""What a broker's parent side hands to the process runner for one repeat. Not for running."""

from __future__ import annotations

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
