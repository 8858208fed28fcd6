"""The clicked quiz in JupyterLab, in headless Chromium: a notebook shows the quiz widget, the test
clicks an answer with the mouse (through the DevTools protocol), and sees the verdict with the
explanation and the link to the experiment, and the answer in the learner's record. Skipped only
where Chromium is not installed and cannot be installed here."""

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
import websocket

from lab.book import browser
from lab.revision import progress
from lab.revision.questions import QUESTIONS

QUESTION = QUESTIONS[0]  # a multiple choice: no broker needed
DEADLINE_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(condition, what: str, timeout_s: float = DEADLINE_S):
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, serving a notebook whose one cell shows the quiz."""
    folder = tmp_path_factory.mktemp("lab")
    record = folder / "quiz.sqlite3"
    code = (
        "from lab.revision.quiz import Quiz\n"
        "from lab.revision.questions import QUESTIONS\n"
        "from lab.revision.widget import ClickQuiz\n\n"
        "ClickQuiz(Quiz(QUESTIONS[:2]))"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, folder / "quiz.ipynb")
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": token, progress.ENVIRONMENT: str(record)}
    root = ["--allow-root"] if os.geteuid() == 0 else []
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={folder}",
               "--LabApp.expose_app_in_browser=True", *root]  # fmt: skip
    log = (folder / "lab.log").open("w")
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
        yield f"{base}/lab/tree/quiz.ipynb?token={token}", record
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
    command = [chromium, *flags, "--remote-debugging-port=0", f"--user-data-dir={profile}",
               "--window-size=1280,1600", "about:blank"]  # fmt: skip
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
        page.send("Page.navigate", url=lab[0])  # the token goes through the protocol only
        yield page
        page.ws.close()
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def test_a_click_on_an_answer_shows_the_verdict_the_explanation_and_the_link(tab, lab):
    record = lab[1]
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
    choices = ".widget-radio-box input[type=radio]"
    _until(lambda: tab.js(f"document.querySelectorAll('{choices}').length") == 4, "4 choices")
    page_text = "document.querySelector('.jp-Notebook').innerText"
    _until(lambda: QUESTION.prompt in tab.js(page_text), "the question's text")
    assert "Right." not in tab.js(page_text)  # no verdict before the click
    assert not record.exists()  # and nothing recorded
    letter = "abcd".index(QUESTION.answer)
    tab.click(f".widget-radio-box label:nth-of-type({letter + 1}) input")
    _until(lambda: "Right." in tab.js(page_text), "the verdict after the click")
    text = tab.js(page_text)
    assert QUESTION.explanation in text
    links = tab.js(
        "Array.from(document.querySelectorAll('.jp-Notebook a'))"
        ".map(a => [a.textContent, a.getAttribute('href')])"
    )
    shown = [link for link in links if link[0] == "The experiment that shows it"]
    assert len(shown) == 1 and QUESTION.link.split("#")[0] in str(shown), links
    with sqlite3.connect(record) as db:
        rows = db.execute("SELECT question, correct FROM answers").fetchall()
    assert rows == [(QUESTION.id, 1)]
    tab.click(".jp-Notebook .widget-button:not([disabled])")  # Next
    _until(lambda: QUESTIONS[1].prompt in tab.js(page_text), "the second question after Next")
    assert "Right." not in tab.js(page_text)
