"""Where a RabbitMQ queue's backlog waits: in the queue (ready, visible to everyone) or in its
consumers (delivered, not yet acknowledged: invisible as queue depth), with each consumer's
prefetch, from the management HTTP API.

The ready count is exact (a passive declare); each consumer's unacknowledged count is its
channel's, as the API samples it, taken once the channels' sum agrees with the queue's own fresh
sample (see `management`). Not for consuming or changing anything (see `helpers.backpressure`).
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from .management import Counts, Management, ManagementUnavailable, queue_counts
from .picture import MEMBER, WAITING, Diagram, new_graph, table, text
from .rabbitmq import SETTLE_S, shared_prefix


@dataclass(frozen=True)
class Holder:
    """A consumer of the queue: its channel, its prefetch (0: no limit) and what it holds."""

    channel: str
    prefetch: int
    unacked: int


def backlog(
    queue: str,
    *,
    url: str | None = None,
    title: str | None = None,
    management_port: int | None = None,
    settle_s: float = SETTLE_S,
) -> Diagram:
    """The queue with its ready messages, and an edge to each consumer labelled with the
    messages it holds unacknowledged and its prefetch."""
    port, titles = management_port, [title]
    [picture] = backlogs([queue], url=url, titles=titles, management_port=port, settle_s=settle_s)
    return picture


def backlogs(
    queues: Sequence[str],
    *,
    url: str | None = None,
    titles: Sequence[str | None] | None = None,
    management_port: int | None = None,
    settle_s: float = SETTLE_S,
) -> list[Diagram]:
    """A `backlog` picture of each queue, all from one reading of the broker (one wait for the
    management API's fresh sample, however many queues): steps to set side by side."""
    api = Management.of(url, management_port)
    wanted = re.compile("|".join(re.escape(q) for q in queues))
    listed, counts = queue_counts(api, url, wanted, settle_s)
    missing = [q for q in queues if q not in listed]
    if missing:
        raise LookupError(f"RabbitMQ has no queue {missing[0]!r} in vhost {api.vhost!r}")
    holders = {q: consumers_of(api, q) for q in queues}
    deadline = time.monotonic() + settle_s
    while not _agree(holders, counts) and time.monotonic() < deadline:
        time.sleep(0.25)  # the channels' sample is behind the queues'
        holders = {q: consumers_of(api, q) for q in queues}
    titles = titles or [None] * len(queues)
    prefix = shared_prefix(list(queues))  # the run's name, left out of the labels
    return [
        _draw(q.removeprefix(prefix), counts[q], holders[q], title or f"Backlog of {q}")
        for q, title in zip(queues, titles, strict=True)
    ]


def _agree(holders: dict[str, list[Holder]], counts: dict[str, Counts]) -> bool:
    return all(
        len(holders[q]) == counts[q].consumers
        and sum(h.unacked for h in holders[q]) == counts[q].unacked
        for q in holders
    )


def _draw(queue: str, counts: Counts, holders: list[Holder], title: str) -> Diagram:
    agreed = _agree({queue: holders}, {queue: counts}) and not counts.sampled
    graph = new_graph(title)
    ready = (f"ready {counts.ready}", WAITING if counts.ready else "white")
    rows: list[str | tuple[str, str]] = [ready, f"consumers {counts.consumers}"]
    graph.node("queue", table(rows, header=f"queue {queue}"), shape="plain")
    for i, holder in enumerate(holders):
        limit = f"prefetch {holder.prefetch}" if holder.prefetch else "no prefetch limit"
        fill = WAITING if holder.unacked else MEMBER
        graph.node(f"c{i}", text("consumer", limit), style="rounded,filled", fillcolor=fill)
        held = f"holds {holder.unacked} unacked" + ("" if agreed else " (sampled)")
        graph.edge("queue", f"c{i}", text(held))
    return Diagram(graph, title)


def consumers_of(api: Management, queue: str) -> list[Holder]:
    """The queue's consumers, each with its channel's unacknowledged messages, as sampled."""
    vhost = urllib.parse.quote(api.vhost, safe="")
    found = [
        c
        for c in api.get(f"consumers/{vhost}")
        if c["queue"]["name"] == queue
        # A consumer whose channel has not been sampled yet comes with `channel_details: []`:
        # it is left out of this look (its queue's consumer count then disagrees, see _agree).
        and isinstance(c.get("channel_details"), dict)
    ]
    holders = []
    for consumer in sorted(found, key=lambda c: c["channel_details"]["name"]):
        name = consumer["channel_details"]["name"]
        try:
            channel = api.get(f"channels/{urllib.parse.quote(name, safe='')}")
        except ManagementUnavailable:  # closed since the consumers were listed
            continue
        unacked = channel.get("messages_unacknowledged", 0)
        holders.append(Holder(name, consumer.get("prefetch_count", 0), unacked))
    return holders
