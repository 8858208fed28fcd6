"""`make lab` serves JupyterLab on the notebooks at JUPYTER_PORT and prints its URL."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_jupyterlab_on_the_chosen_port(broker_endpoints):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
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
    finally:
        os.killpg(lab.pid, signal.SIGINT)  # what Ctrl-C does
        output = lab.communicate(timeout=30)[0]
    assert f"http://localhost:{port}/lab" in output


def _wait_for_jupyter(port: int, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
                return json.load(response)["version"]
        except OSError:
            time.sleep(0.5)
    return None
