"""CPU time of the broker under test, so that a row can say where the time goes: the client's
CPU per message beside the broker's. Read from the broker's native process and its children
(RabbitMQ's start script runs the Erlang VM as a child); a broker the lab did not start
natively (Docker, external) has no figure here: NaN.
Not for the clients' CPU (each worker measures its own, see `loops.cpu_seconds`)."""

from __future__ import annotations

import psutil

from lab.brokers import state

NAN = float("nan")


def broker_cpu_seconds(broker: str) -> float:
    """User + system CPU seconds used so far by our native `broker` and its children."""
    pid = state.running_pid(broker)
    if pid is None:
        return NAN
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return NAN
