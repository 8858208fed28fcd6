"""The README's picture: a RabbitMQ topology drawn from the live broker by `helpers.diagrams`, so
the picture a visitor sees first is one the lab really draws, with counts the broker reported.

    python -m lab.book.readme_picture [docs/topology.svg]

Declares a topic exchange with three queues bound by pattern (one of them dead-lettering to a
queue of its own), publishes a few orders with confirms, draws the topology, writes the SVG and
deletes everything it declared. Names are unique to the run; the picture leaves the run's prefix
out. Not for a lesson (the notebooks draw their own).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pika

from helpers import diagrams
from helpers.naming import unique_name
from helpers.rabbitmq import Topology, connect

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "topology.svg"
ORDERS = {"order.placed.eu": 3, "order.placed.us": 2, "order.paid.eu": 1}  # key -> messages


def draw_topology(url: str | None = None) -> diagrams.Diagram:
    """Declare, publish, draw and delete; the picture of what the broker reported between."""
    run = unique_name("readme")
    connection = connect(url)
    channel = connection.channel()
    topology = Topology(channel)
    try:
        exchange = topology.exchange(f"{run}.orders", "topic")
        dead = topology.exchange(f"{run}.dead-letters", "fanout")
        topology.bind(topology.queue(f"{run}.parked"), dead)
        rejected = {"x-dead-letter-exchange": dead}
        topology.bind(topology.queue(f"{run}.billing", arguments=rejected), exchange, "order.*.*")
        topology.bind(topology.queue(f"{run}.eu-shipping"), exchange, "order.paid.eu")
        topology.bind(topology.queue(f"{run}.analytics"), exchange, "#")
        channel.confirm_delivery()  # each publish returns once the queues have it
        for key, count in ORDERS.items():
            for _ in range(count):
                channel.basic_publish(exchange, key, b"{}", pika.BasicProperties())
        title = "RabbitMQ as the broker reports it: exchanges, bindings, queues"
        return diagrams.rabbitmq_topology(f"{run}.", url=url, title=title)
    finally:
        topology.delete_all()
        connection.close()


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else PICTURE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(draw_topology().svg)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
