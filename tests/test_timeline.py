"""A timeline of diagrams against real Redis: its steps differ exactly as the stream's state did,
the slider shows the step it is moved to, and where no widget is drawn (the book, its PDF) the
same steps print as a row of SVG."""

import base64
import html
import re

import nbformat

from helpers import diagrams
from helpers.naming import unique_name
from helpers.redis_streams import client, create_group
from lab.book import pages


def pending(step: diagrams.Diagram) -> list[str]:
    """The pending-entries rows a step shows."""
    return re.findall(r"PEL [^<]*", step.source)


def test_the_steps_follow_the_pending_entries_list(redis_ep):
    r, stream = client(redis_ep.url), unique_name("timeline-stream")
    try:
        create_group(r, stream, "billing")
        ids = [r.xadd(stream, {"n": str(i)}) for i in range(3)]
        steps = [diagrams.redis_stream(stream, url=redis_ep.url, title="added")]
        r.xreadgroup("billing", "alice", {stream: ">"}, count=2)  # delivered, not acknowledged
        steps.append(diagrams.redis_stream(stream, url=redis_ep.url, title="read"))
        r.xack(stream, "billing", ids[0])
        steps.append(diagrams.redis_stream(stream, url=redis_ep.url, title="acked"))
        steps.append(diagrams.redis_stream(stream, url=redis_ep.url, title="unchanged"))
    finally:
        r.delete(stream)
        r.close()
    timeline = diagrams.timeline(steps, title="a read and an ack")
    shown = [pending(step) for step in timeline.steps]
    assert shown == [
        [],
        [f"PEL {ids[0]} delivered 1x", f"PEL {ids[1]} delivered 1x"],
        [f"PEL {ids[1]} delivered 1x"],
        [f"PEL {ids[1]} delivered 1x"],  # no change in the state, none in the picture
    ]
    slider, caption, picture = _parts(timeline)
    assert picture.value == timeline.frame(0) and "PEL" not in picture.value
    slider.value = 1
    shown = html.unescape(picture.value)  # dot writes "-" as &#45;
    assert f"PEL {ids[0]}" in shown and caption.value == "2 of 4: read"
    slider.value = 2
    shown = html.unescape(picture.value)
    assert f"PEL {ids[0]}" not in shown and f"PEL {ids[1]}" in shown


def test_without_a_widget_the_book_prints_the_steps_as_a_row(redis_ep, tmp_path):
    r, stream = client(redis_ep.url), unique_name("timeline-stream")
    try:
        create_group(r, stream, "billing")
        r.xadd(stream, {"n": "1"})
        before = diagrams.redis_stream(stream, url=redis_ep.url, title="before the read")
        r.xreadgroup("billing", "alice", {stream: ">"})
        after = diagrams.redis_stream(stream, url=redis_ep.url, title="after the read")
    finally:
        r.delete(stream)
        r.close()
    bundle = diagrams.timeline([before, after], title="read")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # JupyterLab draws the slider
    executed = tmp_path / "05-Timeline.ipynb"
    output = nbformat.v4.new_output("display_data", data=bundle)
    cell = nbformat.v4.new_code_cell("diagrams.timeline(...)", outputs=[output])
    notebook = nbformat.v4.new_notebook(cells=[cell])
    # papermill saves the kernel's widget state, with which nbconvert would draw the widget (a
    # slider that needs a kernel) instead of the row of steps
    state = {"state": {bundle["application/vnd.jupyter.widget-view+json"]["model_id"]: {}}}
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    nbformat.write(notebook, executed)
    page = pages.render_page(executed, executed)  # as make book renders it
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert len(images) == 1 and "jupyter-widgets" not in page
    svg = base64.b64decode(images[0]).decode()
    assert svg == bundle["image/svg+xml"]
    assert svg.index("before the read") < svg.index("after the read")


def _parts(timeline: diagrams.Timeline):
    controls, picture = timeline.widget.children
    slider, caption = controls.children
    return slider, caption, picture
