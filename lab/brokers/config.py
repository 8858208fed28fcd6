"""Where each broker is: endpoints from environment variables or the local defaults.

Not for starting anything (see `native` and `docker`) or for checking health (see `probes`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

BROKERS = ("kafka", "rabbitmq", "redis")

ENV_VARS = {
    "kafka": "KAFKA_BOOTSTRAP_SERVERS",
    "rabbitmq": "RABBITMQ_URL",
    "redis": "REDIS_URL",
}

DEFAULT_URLS = {
    "kafka": "localhost:9092",
    "rabbitmq": "amqp://guest:guest@localhost:5672/%2F",
    "redis": "redis://localhost:6379/0",
}

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


def endpoint(broker: str) -> Endpoint:
    """The endpoint of one broker, validated; raises BrokerConfigError naming the variable."""
    if broker not in BROKERS:
        raise ValueError(f"unknown broker {broker!r}; choose from {', '.join(BROKERS)}")
    var = ENV_VARS[broker]
    raw = os.environ.get(var, "").strip()
    url, source = (raw, var) if raw else (DEFAULT_URLS[broker], "default")
    host, port = _PARSERS[broker](url, var)
    return Endpoint(broker=broker, url=url, host=host, port=port, source=source)


def endpoints(*brokers: str) -> dict[str, Endpoint]:
    """Endpoints of the named brokers (all three when none is named)."""
    return {b: endpoint(b) for b in (brokers or BROKERS)}


def _bad(var: str, value: str, why: str, example: str) -> BrokerConfigError:
    return BrokerConfigError(
        f"{var}={mask_password(value)!r} is not valid: {why}. Example: {var}={example} "
        f"(or unset {var} to use the local default)."
    )


def _parse_kafka(value: str, var: str) -> tuple[str, int]:
    first = value.split(",")[0].strip()
    if "://" in first:
        raise _bad(var, value, "bootstrap servers are host:port, no scheme", "localhost:9092")
    match = re.fullmatch(r"\[?([A-Za-z0-9_.\-:]+?)\]?:(\d{1,5})", first)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise _bad(var, value, "expected host:port[,host:port...]", "localhost:9092")
    return match.group(1), int(match.group(2))


def _parse_url(
    value: str, var: str, schemes: tuple[str, ...], port: int, example: str
) -> tuple[str, int]:
    try:
        parts = urlsplit(value)
        parsed_port = parts.port
    except ValueError as exc:
        raise _bad(var, value, str(exc), example) from None
    if parts.scheme not in schemes:
        raise _bad(var, value, f"the scheme must be one of {', '.join(schemes)}", example)
    if not parts.hostname:
        raise _bad(var, value, "it has no host", example)
    return unquote(parts.hostname), parsed_port or port


def _parse_rabbitmq(value: str, var: str) -> tuple[str, int]:
    return _parse_url(value, var, ("amqp", "amqps"), 5672, DEFAULT_URLS["rabbitmq"])


def _parse_redis(value: str, var: str) -> tuple[str, int]:
    return _parse_url(value, var, ("redis", "rediss"), 6379, DEFAULT_URLS["redis"])


_PARSERS = {"kafka": _parse_kafka, "rabbitmq": _parse_rabbitmq, "redis": _parse_redis}


# --- Kafka client settings beyond the bootstrap servers --------------------------------------

KAFKA_CONFIG_VAR = "KAFKA_CONFIG"


def kafka_client_settings() -> dict[str, str]:
    """librdkafka properties from the file KAFKA_CONFIG names (`key=value` lines, `#` comments),
    e.g. `security.protocol`, `sasl.*`, `ssl.*` for a managed cluster; {} when it is unset.

    The values may be secrets: they are passed to clients, never printed.
    """
    path = os.environ.get(KAFKA_CONFIG_VAR, "").strip()
    if not path:
        return {}
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except OSError as exc:
        raise BrokerConfigError(
            f"{KAFKA_CONFIG_VAR}={path!r} cannot be read ({exc.strerror}): point it at a file of "
            "librdkafka properties such as 'security.protocol=SASL_SSL', or unset it."
        ) from None
    settings = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BrokerConfigError(
                f"{KAFKA_CONFIG_VAR} file {path}, line {number}: expected key=value "
                "(e.g. security.protocol=SASL_SSL)"
            )
        settings[key.strip()] = value.strip()
    if "bootstrap.servers" in settings:
        raise BrokerConfigError(
            f"{KAFKA_CONFIG_VAR} file {path} sets bootstrap.servers: set it with "
            "KAFKA_BOOTSTRAP_SERVERS instead, so every tool agrees on one address."
        )
    return settings


def kafka_config(url: str | None = None) -> dict[str, str]:
    """The settings every Kafka client of the lab starts from: bootstrap servers (`url`, or the
    endpoint) plus the KAFKA_CONFIG properties."""
    return {"bootstrap.servers": url or endpoint("kafka").url, **kafka_client_settings()}


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
