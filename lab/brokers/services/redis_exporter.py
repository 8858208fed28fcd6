"""redis_exporter (Debian's `prometheus-redis-exporter`) on 127.0.0.1:19121, turning the lab's
Redis INFO into Prometheus metrics. A password in REDIS_URL reaches it through its
REDIS_PASSWORD environment variable, never its command line. Not for Redis itself."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from .. import install
from ..config import endpoint
from ..process import Launch
from . import Service, probing

PORT = 19121
PROGRAM, PACKAGE = "prometheus-redis-exporter", "prometheus-redis-exporter"


def _install() -> None:
    install.ensure(PROGRAM, PACKAGE, recommends=False)


def _launch() -> Launch:
    parts = urlsplit(endpoint("redis").url)
    env = dict(os.environ)
    for name in ("REDIS_PASSWORD", "REDIS_USER", "REDIS_ADDR"):
        env.pop(name, None)  # only what this URL says
    if parts.password:
        env["REDIS_PASSWORD"] = unquote(parts.password)  # read by the exporter itself
    if parts.username:
        env["REDIS_USER"] = unquote(parts.username)
    address = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    command = [
        install.ensure(PROGRAM, PACKAGE, recommends=False),
        f"-web.listen-address=127.0.0.1:{PORT}",
        f"-redis.addr={address}",
    ]
    return Launch(command, env, ready_timeout_s=20)


def _ready() -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=2.0) as answer:
            if b"redis_up 1" in answer.read():
                return None
            return "the exporter answers but cannot reach Redis (redis_up is not 1)"
    except (urllib.error.URLError, OSError) as exc:
        return f"127.0.0.1:{PORT} does not answer yet ({exc})"


def _version() -> str:
    program = install.ensure(PROGRAM, PACKAGE, recommends=False)
    return probing.program_version([program, "-version"], r"(\d+\.\d+\.\d+)")


SERVICE = Service(
    name="redis-exporter",
    ports={PORT: "redis_exporter's /metrics"},
    memory_mb=15,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
)
