"""The brokers beyond the lab's three that some notebooks need: notebook 11 the three-node
clusters, notebook 13 the secured brokers. The test run and `make book` start them before such a
notebook if they are not running, and stop afterwards only what they started.

    with extras.running_for("11-Replication-and-Failover.ipynb"):
        ...  # run the notebook
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extra:
    what: str
    healthy: Callable[[], bool]
    up: Callable[[], object]
    down: Callable[[], object]


def _clusters() -> Extra:
    from . import cluster

    healthy = lambda: all(s.healthy for s in cluster.status())  # noqa: E731
    return Extra("the three-node clusters", healthy, cluster.up, cluster.down)


def _secured() -> Extra:
    from . import secure

    healthy = lambda: all(s.healthy for s in secure.status())  # noqa: E731
    return Extra("the secured brokers", healthy, secure.up, secure.down)


NEEDED_BY: dict[str, Callable[[], Extra]] = {
    "11-Replication-and-Failover.ipynb": _clusters,
    "13-Security.ipynb": _secured,
}


def start_for(notebook: str) -> Callable[[], object] | None:
    """Start what `notebook` (a file name) needs beyond the three brokers unless it is running;
    return how to stop it again, or None when nothing was started."""
    if notebook not in NEEDED_BY:
        return None
    extra = NEEDED_BY[notebook]()
    if extra.healthy():
        return None
    log.info("starting %s for %s", extra.what, notebook)
    extra.up()
    return extra.down


@contextmanager
def running_for(notebook: str) -> Iterator[None]:
    stop = start_for(notebook)
    try:
        yield
    finally:
        if stop is not None:
            stop()
