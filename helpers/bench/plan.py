"""What a broker's parent side hands to the process runner for one repeat. Not for running."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import Settings


@dataclass
class Plan:
    settings: Settings  # as run (e.g. with the Redis server's AOF settings filled in)
    producer_specs: list[dict]
    consumer_specs: list[dict]
    names: list[str]  # the topic, queues or streams the run used
