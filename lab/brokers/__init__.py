"""The brokers and the services beside them: where they are, whether they answer (a fast, clear
failure when one is missing), and starting and stopping them natively, with Docker, as clusters
or secured. Imports no lesson code.

    from lab.brokers import require
    ep = require("kafka", "rabbitmq", "redis")   # BrokersUnavailable within ~5 s if one is down
    ep["kafka"].url                              # "localhost:9092" unless KAFKA_BOOTSTRAP_SERVERS

    ep = ensure("clusters")                     # notebook 11's clusters, started if not running
                                                 # (saying what and how much memory, with progress)

Starting and stopping brokers is `python -m lab.brokers up|down|status` (see `provision`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import cluster, secure, services
from .config import (
    BROKERS,
    FIX_UP,
    BrokerConfigError,
    Endpoint,
    LabError,
    endpoint,
    endpoints,
    kafka_config,
)
from .extras import EnsureError, ensure
from .probes import probe
from .provision import (
    ProvisionError,
    crash,
    down,
    rabbitmq_memory_alarm,
    rabbitmqctl,
    restart,
    settle_alarm,
    status,
    up,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BROKERS",
    "BrokerConfigError",
    "BrokersUnavailable",
    "Endpoint",
    "EnsureError",
    "ProvisionError",
    "cluster",
    "crash",
    "down",
    "endpoint",
    "endpoints",
    "ensure",
    "kafka_config",
    "rabbitmq_memory_alarm",
    "rabbitmqctl",
    "require",
    "restart",
    "secure",
    "services",
    "status",
    "status_table",
    "up",
]


class BrokersUnavailable(LabError):
    """One or more brokers a notebook needs do not answer; the message says how to fix it."""


def require(*brokers: str, timeout_s: float = 2.5) -> dict[str, Endpoint]:
    """Endpoints of the named brokers, each checked with a real protocol exchange.

    All brokers are probed at once, each within `timeout_s` plus a 1.5 s TCP connect, so a
    missing broker is reported within about 5 s instead of hanging in a client library. A
    RabbitMQ memory alarm left on by an interrupted lesson is cleared (on a broker the lab
    started) or reported with its fix; one a running lesson holds is waited out (up to 15 s).
    """
    brokers = brokers or BROKERS
    problems: list[str] = []
    found: dict[str, Endpoint] = {}
    for broker in brokers:
        try:
            found[broker] = endpoint(broker)
        except BrokerConfigError as exc:
            problems.append(f"- {broker}: {exc}")
    with ThreadPoolExecutor(max_workers=len(found) or 1) as pool:
        futures = {b: pool.submit(probe, ep, timeout_s) for b, ep in found.items()}
    # A RabbitMQ resource alarm blocks every publisher: one a process left behind is cleared.
    health = {b: settle_alarm(found[b], future.result()) for b, future in futures.items()}
    for broker, ep in found.items():
        if not health[broker].ok:
            detail = health[broker].detail
            if health[broker].alarms:  # the detail ends with the alarm's fix
                problems.append(f"- {broker} at {ep.address}: {detail}")
                continue
            fix = "Fix: use a newer one." if health[broker].speaks else _fix(ep)
            problems.append(f"- {broker} at {ep.address}: {detail}. {fix}")
    if problems:
        raise BrokersUnavailable("Brokers unavailable:\n" + "\n".join(problems))
    return found


def _fix(ep: Endpoint) -> str:
    if ep.source == "default":
        return f"Fix: run `{FIX_UP}`."
    return f"The address came from {ep.source}: check it, or unset {ep.source} and run `{FIX_UP}`."


def status_table(brokers: tuple[str, ...] = BROKERS) -> pd.DataFrame:
    """The broker status as a table, for notebooks."""
    import pandas as pd  # here, not at the top: the command-line tools need no pandas

    rows = [
        {
            "broker": s.broker,
            "endpoint": s.endpoint,
            "backend": s.backend,
            "healthy": s.healthy,
            "version": s.version or "",
            "pid": s.pid or "",
            "log": s.log or "",
        }
        for s in status(brokers)
    ]
    return pd.DataFrame(rows).set_index("broker")
