"""CPU time of the broker under test, so that a row can say where the time goes: the client's
CPU per message beside the broker's. Read from the broker's native process and its children
(RabbitMQ's start script runs the Erlang VM as a child); a broker the lab did not start
natively (Docker, external) has no figure here: NaN.

A `CpuMeter` finds its process once, when it starts, and reads that same process at the end:
it never looks the broker up again, so a figure is the CPU of one process tree or NaN (the
process ended: a restarted broker is another process). It counts the children the broker has
already waited for too: Redis forks a child for each snapshot (`save`) and each rewrite of its
append-only file, and once that child has exited the kernel keeps its CPU time only in its
parent's `children_user` / `children_system`, where a sum over the live processes misses it.
`stolen_cpu_seconds` reads what no process sees: the CPU time this virtual machine's CPUs waited
while the hypervisor ran something else (other tenants' machines). Not for the clients' CPU (each
worker measures its own, see `loops.cpu_seconds`).
"""

from __future__ import annotations

import psutil

from lab.brokers import state

NAN = float("nan")


def stolen_cpu_seconds() -> float:
    """CPU seconds taken by the hypervisor so far (`steal` in /proc/stat, every CPU added);
    NaN where the machine reports none."""
    steal = getattr(psutil.cpu_times(), "steal", None)
    return NAN if steal is None else float(steal)


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of `process` and every descendant, live or already waited for.
    Raises psutil.NoSuchProcess once `process` itself has ended."""
    total = 0.0
    for index, member in enumerate([process, *process.children(recursive=True)]):
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            if index == 0:
                raise
            continue  # ended since it was listed: its parent counts it once it waits for it
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuMeter:
    """CPU seconds a process tree used since the meter was made (`seconds()`), NaN without one
    or once its process has ended."""

    def __init__(self, pid: int | None) -> None:
        self.process: psutil.Process | None = None
        self.start = NAN
        if pid is None:
            return
        try:
            self.process = psutil.Process(pid)
            self.start = tree_cpu_seconds(self.process)
        except psutil.Error:
            self.process = None

    def seconds(self) -> float:
        if self.process is None:
            return NAN
        try:
            return tree_cpu_seconds(self.process) - self.start
        except psutil.Error:
            return NAN


def broker_cpu(broker: str) -> CpuMeter:
    """A meter on our native `broker` (NaN figures where the lab did not start it)."""
    return CpuMeter(state.running_pid(broker))
