"""A timeline in JupyterLab, in headless Chromium: a notebook shows the steps of an order in an
event store behind a slider; the test moves the slider with the keyboard (through the DevTools
protocol) and sees the caption and the picture of the step it moved to. No broker needed (the
event store is a file). Skipped only where Chromium is not installed and cannot be installed."""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lab.book import browser
from tests.test_quiz_browser import Tab, _free_port, _until

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
    folder = tmp_path_factory.mktemp("lab")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, folder / "timeline.ipynb")
    token, port = secrets.token_hex(16), _free_port()
    root = ["--allow-root"] if os.geteuid() == 0 else []
    command = [
        *(sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"),
        *("--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={folder}"),
        *("--LabApp.expose_app_in_browser=True", *root),
    ]
    log = (folder / "lab.log").open("w")
    env = {**os.environ, "JUPYTER_TOKEN": token}
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        request = urllib.request.Request(f"{base}/api/status")
        request.add_header("Authorization", f"token {token}")
        try:
            return urllib.request.urlopen(request, timeout=2).status == 200
        except OSError:
            return False

    try:
        _until(answers, f"JupyterLab answering on {base} (log: {folder / 'lab.log'})")
        yield f"{base}/lab/tree/timeline.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def tab(chromium, lab):
    profile = tempfile.mkdtemp(prefix="mq-lab-chromium-")
    flags = browser.headless_flags(os.geteuid() == 0)
    command = [
        *(chromium, *flags, "--remote-debugging-port=0", f"--user-data-dir={profile}"),
        *("--window-size=1280,1600", "about:blank"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    active = Path(profile) / "DevToolsActivePort"
    try:
        _until(lambda: active.exists() and active.read_text().strip(), "Chromium's DevTools port")
        port = active.read_text().split()[0]
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
        page = Tab(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        page.send("Emulation.setFocusEmulationEnabled", enabled=True)  # headless has no focus
        page.send("Page.navigate", url=lab)  # the token goes through the protocol only
        yield page
        page.ws.close()
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def press(tab: Tab, key: str, code: int) -> None:
    for kind in ("keyDown", "keyUp"):
        tab.send("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code)


def test_the_slider_steps_through_the_recorded_states(tab):
    ready = (
        "(() => { const app = window.jupyterapp; if (!app) return false;"
        " const [w] = Array.from(app.shell.widgets('main'));"
        " const k = w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel; if (!k || k.status !== 'idle') return false;"
        " app.shell.activateById(w.id); return true; })()"
    )
    _until(lambda: tab.js(ready), "the notebook open with its kernel idle")
    run = "window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)"
    assert tab.send("Runtime.evaluate", expression=run, awaitPromise=True, returnByValue=True)
    caption = (  # the Label beside the slider (the slider's own description is one too)
        "Array.from(document.querySelectorAll('.jp-Notebook .widget-label'))"
        ".map(e => e.textContent).find(t => / of /.test(t))"
    )
    picture = "(document.querySelector('.jp-Notebook .widget-html-content svg') || {}).textContent"
    _until(lambda: tab.js(caption) == "1 of 3: no order yet", "the first step's caption")
    assert "OrderCreated" not in tab.js(picture)  # the picture of the empty store
    tab.click(".jp-Notebook .noUi-handle")  # focus the slider's handle
    press(tab, "ArrowRight", 39)
    _until(lambda: tab.js(caption) == "2 of 3: created", "the second step after ArrowRight")
    assert "OrderCreated" in tab.js(picture) and "OrderShipped" not in tab.js(picture)
    press(tab, "ArrowRight", 39)
    _until(lambda: tab.js(caption) == "3 of 3: shipped", "the third step")
    assert "OrderShipped" in tab.js(picture)
    press(tab, "ArrowLeft", 37)
    _until(lambda: tab.js(caption) == "2 of 3: created", "back to the second step")
