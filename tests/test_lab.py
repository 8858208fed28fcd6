"""`make lab` serves JupyterLab on the notebooks at JUPYTER_PORT and prints its URL; the lab
opens on the notebooks without asking to fetch Jupyter news."""

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import psutil

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_jupyterlab_on_the_chosen_port(broker_endpoints):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    token = env["JUPYTER_TOKEN"] = uuid.uuid4().hex  # so the test may read the server's API
    lab = subprocess.Popen(
        ["make", "-s", "lab", f"JUPYTER_PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        version = _wait_for_jupyter(port, deadline=time.monotonic() + 90)
        assert version, "JupyterLab did not answer within 90 s"
        server = " ".join(
            " ".join(p.cmdline()) for p in psutil.Process(lab.pid).children(recursive=True)
        )
        assert "--notebook-dir=notebooks" in server
        assert "--no-browser" in server, "a browser would be opened on a machine without display"
        root = [item["name"] for item in _get(port, token, "/api/contents")["content"]]
        assert "00-Start-Here.ipynb" in root, f"the file browser opens on {root}"
        notification = _get(
            port, token, "/lab/api/settings/@jupyterlab/apputils-extension:notification"
        )
        defaults = {k: v["default"] for k, v in notification["schema"]["properties"].items()}
        assert defaults["fetchNews"] == "false", "JupyterLab would ask to fetch Jupyter news"
        assert defaults["checkForUpdates"] is False
    finally:
        os.killpg(lab.pid, signal.SIGINT)  # what Ctrl-C does
        output = lab.communicate(timeout=30)[0]
    assert f"http://localhost:{port}/lab" in output


def _get(port: int, token: str, path: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _wait_for_jupyter(port: int, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
                return json.load(response)["version"]
        except OSError:
            time.sleep(0.5)
    return None
