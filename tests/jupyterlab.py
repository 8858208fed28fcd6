"""Driving JupyterLab in headless Chromium for the widget tests (the clicked quiz, the timeline):
a JupyterLab server on a free port serving one notebook, a Chromium page through the DevTools
protocol, and the wait until the notebook's kernel is idle and its cells have run."""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import websocket

from lab.book import browser

DEADLINE_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(condition, what: str, timeout_s: float = DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


class Tab:
    """One Chromium page, driven through the DevTools protocol."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30)
        self.calls = 0

    def send(self, method: str, **params) -> dict:
        self.calls += 1
        self.ws.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.calls:
                assert "error" not in reply, reply
                return reply.get("result", {})

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def run_all_cells(self) -> None:
        """Wait for the notebook to open with its kernel idle, then run every cell."""
        ready = (
            "(() => { const app = window.jupyterapp; if (!app) return false;"
            " const [w] = Array.from(app.shell.widgets('main'));"
            " const k = w && w.sessionContext && w.sessionContext.session &&"
            " w.sessionContext.session.kernel; if (!k || k.status !== 'idle') return false;"
            " app.shell.activateById(w.id); return true; })()"
        )
        until(lambda: self.js(ready), "the notebook open with its kernel idle")
        run = "window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)"
        done = self.send("Runtime.evaluate", expression=run, awaitPromise=True, returnByValue=True)
        assert done


@contextlib.contextmanager
def serving(folder: Path, code: str, name: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """JupyterLab on a free port serving `folder`, where `name` is a notebook of one cell of
    `code`; yields the notebook's URL (its token included: give it to the browser only)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, folder / name)
    token, port = secrets.token_hex(16), free_port()
    root = ["--allow-root"] if os.geteuid() == 0 else []
    command = [
        *(sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"),
        *("--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={folder}"),
        *("--LabApp.expose_app_in_browser=True", *root),
    ]
    log = (folder / "lab.log").open("w")
    server_env = {**os.environ, **(env or {}), "JUPYTER_TOKEN": token}
    server = subprocess.Popen(command, env=server_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        request = urllib.request.Request(f"{base}/api/status")
        request.add_header("Authorization", f"token {token}")
        try:
            return urllib.request.urlopen(request, timeout=2).status == 200
        except OSError:
            return False

    try:
        until(answers, f"JupyterLab answering on {base} (log: {folder / 'lab.log'})")
        yield f"{base}/lab/tree/{name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@contextlib.contextmanager
def page(chromium: str, url: str) -> Iterator[Tab]:
    """A headless Chromium page that has opened `url` (through the protocol, not its command
    line, so a token in the URL stays out of the process list)."""
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
        until(lambda: active.exists() and active.read_text().strip(), "Chromium's DevTools port")
        port = active.read_text().split()[0]
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
        tab = Tab(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        tab.send("Emulation.setFocusEmulationEnabled", enabled=True)  # headless has no focus
        tab.send("Page.navigate", url=url)
        yield tab
        tab.ws.close()
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
