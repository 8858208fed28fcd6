"""What the services' modules ask of a running service or an installed program: does this URL
answer yet, what JSON does it give, which version does the program print. One way each, so every
service waits and reads versions alike."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 2.0  # a service on loopback answers at once, or is not ready yet


def answers(url: str) -> str | None:
    """None when `url` answers 200, else what is still awaited (a `Service.ready` result)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} does not answer yet ({exc})"


def get_json(url: str) -> Any:
    """The JSON `url` answers with; an error if it does not answer (a `Service.version` reads
    a running service, so it raises rather than guesses)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.load(response)


def program_version(command: list[str], pattern: str) -> str:
    """The first group of `pattern` in what `command` prints (stdout or stderr), else "unknown"."""
    out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    found = re.search(pattern, out.stdout + out.stderr)
    return found.group(1) if found else "unknown"
