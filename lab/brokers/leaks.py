"""The lab's secrets, found in text: what must never show in a notebook's output, and so in the
book built from those outputs. One scanner for the notebooks' test guard (tests/notebook_hooks.py)
and the book build (lab/book/build.py).

A secret is a password of the secured brokers, the field-encryption key, the clusters' Erlang
cookie, a password inside a broker URL of the environment, or any PEM private key. They are read
where they are kept, never generated here, and never returned to a caller that prints them:
`leaks` names what it found ("writer's password"), `redact` replaces it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .config import ENV_VARS, state_dir

PRIVATE_KEY = "PRIVATE KEY-----"  # the end of any PEM private key's first line
MIN_LENGTH = 8  # shorter "passwords" (guest) are ordinary words in any text
REDACTED = "[secret removed]"
URL_PASSWORD = re.compile(r"://[^:/@\s]*:(\S+)@")  # up to the last @ of the address
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
)


def known_secrets() -> dict[str, str]:
    """What each secret is -> its text, for those that exist now."""
    home = state_dir() / "secure"
    found = {"a private key": PRIVATE_KEY}
    passwords = _read(home / "passwords.json")
    if passwords:
        found |= {f"{user}'s password": pw for user, pw in json.loads(passwords).items()}
    found["the field-encryption key"] = _read(home / "field.key")
    found["the field-encryption key ($LAB_FIELD_KEY)"] = os.environ.get("LAB_FIELD_KEY", "")
    found["the clusters' Erlang cookie"] = _read(state_dir() / "rabbitmq-cluster.cookie")
    for variable in ENV_VARS.values():
        found[f"the password in ${variable}"] = _url_password(os.environ.get(variable, ""))
    return {what: text for what, text in found.items() if len(text) >= MIN_LENGTH}


def leaks(text: str, secrets: Mapping[str, str] | None = None) -> list[str]:
    """What `text` shows of the secrets (all the lab's by default), by name."""
    secrets = known_secrets() if secrets is None else secrets
    return [what for what, secret in secrets.items() if secret in text]


def redact(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """`text` with every secret replaced by a marker (a PEM private key, all of it)."""
    secrets = known_secrets() if secrets is None else secrets
    text = PEM_PRIVATE_KEY.sub(REDACTED, text)
    for secret in secrets.values():
        text = text.replace(secret, REDACTED)
    return text


def output_text(outputs: object) -> str:
    """Every string in a cell's outputs (text, data, an error's message and traceback), as is."""
    return "\n".join(_strings(outputs))


def cell_leaks(cells: Iterable[Mapping[str, Any]]) -> dict[int, list[str]]:
    """Cell index -> the secrets its outputs show (tracebacks of failed cells included), for
    the cells of a notebook (nbformat's cells, or their JSON)."""
    secrets = known_secrets()
    found = {}
    for index, cell in enumerate(cells):
        shown = leaks(output_text(cell.get("outputs", [])), secrets)
        if shown:
            found[index] = shown
    return found


def redact_cells(cells: Iterable[dict[str, Any]]) -> None:
    """Replace every secret in the cells' outputs, in place, wherever it is."""
    secrets = known_secrets()
    for cell in cells:
        if "outputs" in cell:
            cell["outputs"] = _redacted(cell["outputs"], secrets)


def _redacted(value: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):  # nbformat's nodes are dicts: keep their class
        for key, item in value.items():
            value[key] = _redacted(item, secrets)
        return value
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    return value


def _strings(value: object) -> Iterable[str]:
    """Every string in a JSON-like value (an output's text, data, traceback...), as it is."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _url_password(url: str) -> str:
    """The password in a URL, even one with a `/` that was not percent-encoded."""
    found = URL_PASSWORD.search(url)
    return unquote(found.group(1)) if found else ""
