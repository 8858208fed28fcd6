"""The README's picture is drawn from the live broker and is current: drawn again now, it shows
the queues' counts the orders it publishes put there, and the same text as the committed one
(regenerate it with `python -m lab.book.readme_picture`)."""

import re
from pathlib import Path

from lab.book import readme_picture


def texts(svg: str) -> list[str]:
    """Every text of the picture, in order: names, keys, counts."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_the_readme_picture_follows_the_broker_and_is_committed_current(tmp_path: Path):
    fresh = tmp_path / "topology.svg"
    assert readme_picture.main([str(fresh)]) == 0
    drawn = texts(fresh.read_text())
    sent = sum(readme_picture.ORDERS.values())
    paid_eu = readme_picture.ORDERS["order.paid.eu"]
    for queue, ready in (("analytics", sent), ("billing", sent), ("eu&#45;shipping", paid_eu)):
        assert drawn[drawn.index(f"queue {queue}") + 1] == f"ready {ready}"
    assert drawn[drawn.index("queue parked") + 1] == "ready 0"  # nothing rejected yet
    assert {"#", "order.*.*", "order.paid.eu", "dead letters"} <= set(drawn)
    committed = texts(readme_picture.PICTURE.read_text())
    assert committed == drawn, "docs/topology.svg is stale: python -m lab.book.readme_picture"
