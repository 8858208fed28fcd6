"""Headless Chromium for the book: find it, print the revision book to PDF, and look at pages
(DOM, screenshot) for the book's browser test.

Chromium is found on PATH (chromium, Google Chrome), in the macOS applications, or wherever
CHROMIUM points. Where it is missing it is installed like the brokers' programs: Debian's package
with apt-get when running as root or with passwordless sudo, otherwise an error naming the command
to run. Not for rendering HTML (pages.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from lab.brokers import install

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
# Without the last four flags Chromium keeps calling Google's services, retrying for the whole
# run on a machine without network.
HEADLESS = (
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_S = 300


class ChromiumUnavailable(RuntimeError):
    """Chromium is not installed here and could not be installed."""


class ChromiumFailed(RuntimeError):
    """Chromium ran but did not produce what it was asked for."""


def find() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        path = shutil.which(configured)
        if path:
            return path
        raise ChromiumUnavailable(
            f"CHROMIUM={configured} is not an executable program: point it at Chromium or "
            "Google Chrome, or unset it to use the one on PATH"
        )
    found = (shutil.which(name) for name in NAMES)
    return next((p for p in found if p), None) or next(
        (app for app in MAC_APPS if os.access(app, os.X_OK)), None
    )


def ensure() -> str:
    """The path of Chromium, installing Debian's package where the lab installs packages."""
    path = find()
    if path:
        return path
    try:
        return install.ensure("chromium")
    except install.MissingProgram as exc:
        raise ChromiumUnavailable(
            f"{exc}\nOr point CHROMIUM at an installed Chromium or Google Chrome."
        ) from None


def ensure_program(program: str) -> str:
    """Another program the book's test needs (pdftotext), installed by the same rules."""
    return install.ensure(program)


def print_pdf(page: Path, pdf: Path, chromium: str) -> None:
    """Print an HTML file to PDF as a browser prints it: print CSS applied, scripts run."""
    pdf.unlink(missing_ok=True)  # a PDF from an earlier build must not pass for this one
    # No header and footer (they would show the file's path); the outline lists the headings.
    flags = ["--no-pdf-header-footer", "--generate-pdf-document-outline"]
    done = _run(chromium, *flags, f"--print-to-pdf={pdf}", page.resolve().as_uri())
    if not pdf.exists() or not pdf.read_bytes().startswith(b"%PDF-"):
        raise ChromiumFailed(f"Chromium printed no PDF of {page}:\n{done.stderr[-1500:]}")


def screenshot(page: Path, png: Path, chromium: str, width: int = 1280, height: int = 1600) -> None:
    png.unlink(missing_ok=True)
    size = f"--window-size={width},{height}"
    done = _run(chromium, size, "--hide-scrollbars", f"--screenshot={png}", page.resolve().as_uri())
    if not png.exists():
        raise ChromiumFailed(f"Chromium took no screenshot of {page}:\n{done.stderr[-1500:]}")


def dump_dom(page: Path, chromium: str) -> str:
    """The page's DOM after its scripts ran, serialised as HTML."""
    return _run(chromium, "--dump-dom", page.resolve().as_uri()).stdout


def headless_flags(root: bool) -> list[str]:
    """Chromium's flags here. --no-sandbox only for root, whose sandbox cannot start: anyone
    else keeps the sandbox that confines a page's code."""
    return [*HEADLESS, "--no-sandbox"] if root else list(HEADLESS)


def _run(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    # A fresh profile each time: no state from an earlier run, and no lock held by another one.
    with tempfile.TemporaryDirectory(prefix="book-chromium-") as profile:
        flags = headless_flags(os.geteuid() == 0)
        command = [chromium, *flags, f"--user-data-dir={profile}", *args]
        try:
            return run_group(command, TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ChromiumFailed(
                f"Chromium did not finish within {TIMEOUT_S} s: {' '.join(command)}"
            ) from None


def run_group(command: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run `command` in a process group of its own, its output captured. If it does not finish
    within `timeout_s`, the whole group is killed (Chromium's renderer, GPU and zygote
    processes too, which killing the browser alone leaves running) and TimeoutExpired raised."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.communicate()
            raise
        finally:
            if process.poll() is None:  # interrupted: nothing of it is left behind either
                _kill_group(process.pid)
                process.wait()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _kill_group(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # every member has exited already
        os.killpg(leader, signal.SIGKILL)
