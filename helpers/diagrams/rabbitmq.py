"""RabbitMQ topology as the broker reports it: exchanges, their bindings (routing keys, patterns or
header matches on the edges), the queues with their ready and unacknowledged counts, and the
dead-letter paths their arguments set (`x-dead-letter-exchange`), from the management HTTP API.

Only the exchanges and queues a lesson names (a prefix, or a list) are drawn, never the whole
broker; the default exchange's implicit bindings are left out. Not for declaring anything (see
`helpers.rabbitmq`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from .management import Counts, Management, queue_counts
from .picture import DEAD, MEMBER, MUTED, WAITING, Diagram, new_graph, table, text

HEADER_MATCH = "x-match"
DEAD_LETTER_ARGUMENTS = ("x-dead-letter-exchange", "x-dead-letter-routing-key")
SETTLE_S = 12.0  # two statistics intervals of the management plugin, and some


def rabbitmq_topology(
    names: str | Iterable[str],
    *,
    url: str | None = None,
    title: str | None = None,
    management_port: int | None = None,
    settle_s: float = SETTLE_S,
) -> Diagram:
    """Exchanges → bindings → queues among `names` (a prefix, or exact names), with each queue's
    ready/unacked/consumer counts and dead-letter edges, as the broker at `url` reports them.
    An exact name "" adds the default exchange, which routes to each queue by its name.

    Waits up to `settle_s` for the management API's sampled counts to catch up (see
    `management`); a count still unconfirmed then is marked "sampled"."""
    api = Management.of(url, management_port)
    names = names if isinstance(names, str) else list(names)
    prefix = names if isinstance(names, str) else shared_prefix([n for n in names if n])
    wanted = _name_pattern(names)
    exchanges = api.named("exchanges", wanted)
    if "" in names and not isinstance(names, str):
        exchanges[""] = {"name": "", "type": "direct"}
    queues, counts = queue_counts(api, url, wanted, settle_s)
    bindings = [
        b
        for b in api.bindings()
        if b["source"] in exchanges and b["destination"] in exchanges.keys() | queues.keys()
    ]
    default_title = f"RabbitMQ topology: {prefix}*" if prefix else "RabbitMQ topology"
    graph = new_graph(title or default_title)
    ids: dict[tuple[str, str], str] = {}

    def node_id(kind: str, name: str) -> str:
        return ids.setdefault((kind, name), f"{kind[0]}{len(ids)}")

    def short(name: str) -> str:
        return name[len(prefix) :] or name if prefix and name.startswith(prefix) else name

    for name, exchange in sorted(exchanges.items()):
        label = text(short(name) or "(default exchange)", f"exchange ({exchange['type']})")
        graph.node(node_id("exchange", name), label, shape="cds", style="filled", fillcolor=MEMBER)
    for name, queue in sorted(queues.items()):
        graph.node(
            node_id("queue", name), _queue_label(short(name), queue, counts[name]), shape="plain"
        )
    for binding in bindings:
        kind = "exchange" if binding["destination_type"] == "exchange" else "queue"
        graph.edge(
            node_id("exchange", binding["source"]),
            node_id(kind, binding["destination"]),
            _binding_label(binding, exchanges[binding["source"]]["type"]),
        )
    for name, queue in sorted(queues.items()):
        arguments = queue.get("arguments") or {}
        if "x-dead-letter-exchange" not in arguments:
            continue
        target = arguments["x-dead-letter-exchange"]
        if target not in exchanges:  # named by the queue but not among `names`: shown by name
            graph.node(
                node_id("exchange", target),
                text(target or "(default exchange)"),
                shape="cds",
                color=MUTED,
                fontcolor=MUTED,
            )
        key = arguments.get("x-dead-letter-routing-key")
        graph.edge(
            node_id("queue", name),
            node_id("exchange", target),
            text("dead letters" + (f" (key {key})" if key else "")),
            style="dashed",
            color=DEAD,
            fontcolor=DEAD,
        )
    return Diagram(graph, graph.graph_attr["label"])


def shared_prefix(names: list[str]) -> str:
    """What every name starts with, up to its last '.': the run's name, left out of labels."""
    shared = os.path.commonprefix(names)
    return shared[: shared.rfind(".") + 1]


def _name_pattern(names: str | Iterable[str]) -> re.Pattern[str]:
    if isinstance(names, str):
        return re.compile(re.escape(names) + ".+")
    return re.compile("|".join(re.escape(n) for n in names if n) or "(?!)")


def _queue_label(name: str, queue: dict[str, Any], counts: Counts) -> str:
    arguments = queue.get("arguments") or {}
    sampled = " (sampled)" if counts.sampled else ""
    rows: list[str | tuple[str, str]] = [
        (f"ready {counts.ready}", WAITING if counts.ready else "white"),
        (f"unacked {counts.unacked}{sampled}", WAITING if counts.unacked else "white"),
        f"consumers {counts.consumers}",
    ]
    rows += [
        f"{k.removeprefix('x-')} {v}"
        for k, v in sorted(arguments.items())
        if k not in DEAD_LETTER_ARGUMENTS
    ]
    return table(rows, header=f"queue {name}")


def _binding_label(binding: dict[str, Any], exchange_type: str) -> str:
    if exchange_type == "headers":
        arguments = binding.get("arguments") or {}
        match = arguments.get(HEADER_MATCH, "all")
        pairs = [f"{k}={v}" for k, v in sorted(arguments.items()) if k != HEADER_MATCH]
        return text(f"{HEADER_MATCH} {match}", *pairs)
    if exchange_type == "fanout":
        return text("(every message)")
    return text(binding["routing_key"] or '""')
