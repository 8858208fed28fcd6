"""Redis, as the lab runs it natively: the single server's configuration (append-only file on:
persistence is part of the lessons), its version check and the port it binds; the variable that
sets its endpoint, how that is parsed, and its protocol probe.
Templates: brokers/redis/.
Not for starting or stopping it (see `native`) or for clients (see `helpers.redis_streams`).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import redis

from . import install, state
from .base import Endpoint, parse_url, too_old
from .process import Launch, StartError, render

ENV_VAR = "REDIS_URL"
DEFAULT_URL = "redis://localhost:6379/0"


def parse(value: str, var: str) -> tuple[str, int]:
    """Host and port of the Redis URL `value` (set by `var`)."""
    return parse_url(value, var, ("redis", "rediss"), 6379, DEFAULT_URL)


def probe(ep: Endpoint, timeout_s: float, deep: bool) -> str | None:
    """A PING (and, when `deep`, an XADD to a key deleted again); the server's version. Raises
    if the broker does not answer."""
    client = redis.Redis.from_url(
        ep.url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    )
    try:
        client.ping()
        if deep:
            key = f"_lab_ready_{uuid.uuid4().hex[:8]}"
            client.xadd(key, {"probe": "1"})
            client.delete(key)
        return client.info("server").get("redis_version")
    finally:
        client.close()


def launch(ep: Endpoint) -> Launch:
    """Check the server's version, render its configuration and say how to start it."""
    server = install.ensure("redis-server")
    check_version("redis", server, ["--version"], r"v=([\d.]+)")
    home = state.broker_dir("redis")
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = home / "redis.conf"
    render("redis/redis.conf.template", config, port=ep.port, data_dir=data)
    return Launch([server, str(config)], dict(os.environ), ready_timeout_s=30)


def check_version(broker: str, program: str, args: list[str], pattern: str) -> None:
    """Refuse a server too old for the lessons, naming the fix."""
    out = subprocess.run([program, *args], capture_output=True, text=True, timeout=30).stdout
    match = re.search(pattern, out)
    reason = too_old(broker, match.group(1) if match else None)
    if reason:
        fix = install.install_command(f"{broker}-server")
        raise StartError(
            f"{program}: {reason}. Install a newer one ({fix} on a current Debian/Ubuntu), "
            f"or point the lab at one with {ENV_VAR}."
        )


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the server binds, with what it is for."""
    return {ep.port: f"redis clients ({ENV_VAR})"}
