"""A timeline in JupyterLab, in headless Chromium: a notebook shows the steps of an order in an
event store behind a slider; the test moves the slider with the keyboard (through the DevTools
protocol) and sees the caption and the picture of the step it moved to. No broker needed (the
event store is a file). Skipped only where Chromium is not installed and cannot be installed."""

import pytest

from tests import jupyterlab
from tests.jupyterlab import Tab, until

CODE = """\
from pathlib import Path

from helpers import diagrams
from helpers.cqrs import ORDER_EVENTS, CreateOrder, OrderService, ShipOrder
from helpers.eventsourcing import EventStore

store = EventStore(Path("orders.db"), ORDER_EVENTS)
service = OrderService(store, "order-events")
steps = [diagrams.event_store(store, title="no order yet")]
service.handle(CreateOrder("order-1", "alice", items=2, total_cents=4500))
steps.append(diagrams.event_store(store, title="created"))
service.handle(ShipOrder("order-1"))
steps.append(diagrams.event_store(store, title="shipped"))
diagrams.timeline(steps, title="one order")
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, serving a notebook whose one cell shows a timeline."""
    with jupyterlab.serving(tmp_path_factory.mktemp("lab"), CODE, "timeline.ipynb") as url:
        yield url


@pytest.fixture(scope="module")
def tab(chromium, lab):
    with jupyterlab.page(chromium, lab) as page:
        yield page


def press(tab: Tab, key: str, code: int) -> None:
    for kind in ("keyDown", "keyUp"):
        tab.send("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code)


def test_the_slider_steps_through_the_recorded_states(tab):
    tab.run_all_cells()
    caption = (  # the Label beside the slider (the slider's own description is one too)
        "Array.from(document.querySelectorAll('.jp-Notebook .widget-label'))"
        ".map(e => e.textContent).find(t => / of /.test(t))"
    )
    picture = "(document.querySelector('.jp-Notebook .widget-html-content svg') || {}).textContent"
    until(lambda: tab.js(caption) == "1 of 3: no order yet", "the first step's caption")
    assert "OrderCreated" not in tab.js(picture)  # the picture of the empty store
    tab.click(".jp-Notebook .noUi-handle")  # focus the slider's handle
    press(tab, "ArrowRight", 39)
    until(lambda: tab.js(caption) == "2 of 3: created", "the second step after ArrowRight")
    assert "OrderCreated" in tab.js(picture) and "OrderShipped" not in tab.js(picture)
    press(tab, "ArrowRight", 39)
    until(lambda: tab.js(caption) == "3 of 3: shipped", "the third step")
    assert "OrderShipped" in tab.js(picture)
    press(tab, "ArrowLeft", 37)
    until(lambda: tab.js(caption) == "2 of 3: created", "back to the second step")
