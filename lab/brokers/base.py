"""What every module of the broker layer stands on: the lab's folders, its exception family, an
endpoint and how an endpoint setting is checked, and the broker versions the lessons need.
Imports nothing of the lab, so each broker's own module can say how its endpoint is parsed and
probed while `config` lists the brokers.

Not for finding a broker's endpoint (see `config`) or for checking its health (see `probes`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = PROJECT_ROOT / "brokers"


def state_dir() -> Path:
    """Where native brokers keep config, data, pid files and logs (LAB_STATE_DIR overrides).

    Always absolute: brokers run with their own folder as working directory, so a relative
    LAB_STATE_DIR would otherwise point somewhere else for them.
    """
    return Path(os.environ.get("LAB_STATE_DIR") or PROJECT_ROOT / ".brokers").expanduser().resolve()


def cache_dir() -> Path:
    """Downloads shared by every checkout of the lab, such as the Kafka jars."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mq-lab"


FIX_UP = "make brokers-up  (or: python -m lab.brokers up)"


class LabError(RuntimeError):
    """Every failure of the lab's engine. Its message is a sentence that names the cause and
    the fix, which the command line prints as it is."""


class BrokerConfigError(LabError, ValueError):
    """An endpoint setting is malformed; the message names the variable and a valid example."""


@dataclass(frozen=True)
class Endpoint:
    """One broker's address, as the clients need it, plus where the setting came from."""

    broker: str
    url: str  # what the client library takes: bootstrap servers, AMQP URL or Redis URL
    host: str
    port: int
    source: str  # the environment variable that set it, or "default"

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def display_url(self) -> str:
        """The URL with any password masked: what status tables, logs and errors show."""
        return mask_password(self.url)


def mask_password(url: str) -> str:
    """`amqp://guest:****@host/` for `amqp://guest:guest@host/`; other text unchanged. The
    password runs to the last `@` before a space, so one with a `/` or `@` that was not
    percent-encoded is masked whole (at worst, with some of the address after it)."""
    return re.sub(r"(://[^:/@\s]*:)\S*@", r"\1****@", url)


def bad_setting(var: str, value: str, why: str, example: str) -> BrokerConfigError:
    """The error for a malformed endpoint setting: the variable, why, and a valid example."""
    return BrokerConfigError(
        f"{var}={mask_password(value)!r} is not valid: {why}. Example: {var}={example} "
        f"(or unset {var} to use the local default)."
    )


def parse_url(
    value: str, var: str, schemes: tuple[str, ...], port: int, example: str
) -> tuple[str, int]:
    """Host and port of a URL setting with one of `schemes` (`port` when it names none)."""
    try:
        parts = urlsplit(value)
        parsed_port = parts.port
    except ValueError as exc:
        raise bad_setting(var, value, str(exc), example) from None
    if parts.scheme not in schemes:
        raise bad_setting(var, value, f"the scheme must be one of {', '.join(schemes)}", example)
    if not parts.hostname:
        raise bad_setting(var, value, "it has no host", example)
    return unquote(parts.hostname), parsed_port or port


# --- versions the lessons depend on ----------------------------------------------------------

# Redis 7.0: XINFO GROUPS reports lag and entries-read (XAUTOCLAIM needs 6.2).
# RabbitMQ 3.10: quorum queues with x-delivery-limit and at-least-once dead-lettering.
MINIMUM_VERSIONS = {"redis": (7, 0), "rabbitmq": (3, 10)}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def too_old(broker: str, version: str | None) -> str | None:
    """Why `version` of `broker` cannot run the lessons, or None if it can (or is unknown)."""
    minimum = MINIMUM_VERSIONS.get(broker)
    if not minimum or not version or version_tuple(version) >= minimum:
        return None
    wanted = ".".join(map(str, minimum))
    return (
        f"{broker} {version} is older than {wanted}, which the lessons need "
        f"({'XINFO lag and XAUTOCLAIM' if broker == 'redis' else 'quorum queue delivery limits'})"
    )
