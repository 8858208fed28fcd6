"""What the lab's Prometheus watches, drawn from what it reports at that moment: each scrape
target with its health and the series it returned, Prometheus, and each alert rule with its
state (inactive, pending, firing). Not for querying metrics (see `prometheus`)."""

from __future__ import annotations

from helpers.diagrams.picture import DEAD, DONE, MEMBER, WAITING, Diagram, new_graph, table

from . import prometheus

STATE_COLOURS = {"inactive": DONE, "pending": WAITING, "firing": DEAD}


def monitoring_picture(title: str = "What Prometheus scrapes and alerts on") -> Diagram:
    graph = new_graph(title)
    graph.node(
        "prometheus",
        table(
            [f"127.0.0.1:{prometheus.URL.rsplit(':', 1)[1]}", "scrapes every 1 s"],
            header="Prometheus",
            fill=MEMBER,
        ),
        shape="plaintext",
    )
    for target in prometheus.api("targets")["activeTargets"]:
        job, healthy = target["labels"]["job"], target["health"] == "up"
        rows = [target["scrapeUrl"].split("?")[0], f"health: {target['health']}"]
        graph.node(
            f"job-{job}", table(rows, header=job, fill=DONE if healthy else DEAD), shape="plaintext"
        )
        graph.edge(f"job-{job}", "prometheus", label="scraped")
    rules = [
        r for g in prometheus.api("rules")["groups"] for r in g["rules"] if r["type"] == "alerting"
    ]
    rows = [(f"{r['name']}: {r['state']}", STATE_COLOURS.get(r["state"], "white")) for r in rules]
    graph.node("rules", table(rows, header="alert rules (alerts.yml)"), shape="plaintext")
    graph.edge("prometheus", "rules", label="evaluates every 1 s")
    return Diagram(graph, title)
