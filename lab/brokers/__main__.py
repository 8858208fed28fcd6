"""python -m lab.brokers up|down|status|restart [broker ...] [--cluster | --secure]
python -m lab.brokers down --clean: also delete what the services keep outside .brokers
python -m lab.brokers install: what the lessons and the services beside the brokers need"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from types import ModuleType

from tabulate import tabulate

from . import (
    BROKERS,
    cluster,
    down,
    engines,
    install,
    netns_kafka,
    netns_rabbitmq,
    netns_redis,
    restart,
    secure,
    services,
    status,
    up,
)
from .config import LabError
from .provision import BrokerStatus

LESSON_PROGRAMS = ("dot",)  # Graphviz, for the notebooks' diagrams
FAILURES = (LabError,)  # every failure of the engine; its message is a sentence


def explain(exc: BaseException) -> str:
    """One sentence for a failure: what went wrong and what to do about it."""
    if isinstance(exc, subprocess.TimeoutExpired):
        command = " ".join(str(part) for part in exc.cmd[:2]) if exc.cmd else "a broker tool"
        return (
            f"`{command}` did not finish within {exc.timeout:.3g} s: the broker may be hung or the "
            "machine overloaded. See `make brokers-status` and the logs under .brokers/, or stop "
            "everything with `make clean` and start again."
        )
    return str(exc)  # the lab's own errors (and the provisioning lock's timeout) are sentences


def print_table(statuses: list[BrokerStatus]) -> None:
    rows = [
        [
            s.broker,
            s.endpoint,
            s.backend,
            "yes" if s.healthy else "NO",
            s.version or "",
            s.pid or "",
            s.log or "",
            "" if s.seconds_to_healthy is None else f"{s.seconds_to_healthy:.1f}",
        ]
        for s in statuses
    ]
    headers = ["broker", "endpoint", "backend", "healthy", "version", "pid", "log", "up_s"]
    print(tabulate(rows, headers=headers))
    for s in statuses:
        if not s.healthy:
            print(f"\n{s.broker}: {s.detail}")


def install_programs() -> int:
    """Install what the lessons and the services beside the brokers need, ahead of their use."""
    try:
        for program in LESSON_PROGRAMS:
            install.ensure(program)
        services.install_all()
        engines.install_all()  # the stream engines' own environments (notebook 16)
    except (*FAILURES, subprocess.TimeoutExpired) as exc:
        print(f"error: {explain(exc)}", file=sys.stderr)
        return 2
    return 0


def lab_hosts_down() -> list[str]:
    """Stop the nodes that notebook 18 runs on hosts of the lab's own, and remove the hosts."""
    return [name for hosts in (netns_redis, netns_kafka, netns_rabbitmq) for name in hosts.down()]


def print_services() -> None:
    """The services beside the brokers that the lab started (none until a lesson needs one)."""
    rows = [row for row in services.status() if row.pid is not None]
    if rows:
        print()
        print(tabulate([row.__dict__ for row in rows], headers="keys"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.brokers", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "restart", "install"])
    parser.add_argument("brokers", nargs="*", choices=[[], *BROKERS], metavar="broker")
    variant = parser.add_mutually_exclusive_group()
    variant.add_argument(
        "--cluster", action="store_true", help="the three-node clusters instead (up/down/status)"
    )
    variant.add_argument(
        "--secure", action="store_true", help="the secured brokers instead (up/down/status)"
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="with down: also delete what the services keep outside the state folder (make clean)",
    )
    args = parser.parse_intermixed_args(
        argv
    )  # `up --cluster kafka` as well as `up kafka --cluster`
    brokers = tuple(args.brokers) or BROKERS
    if args.action == "install":
        return install_programs()
    if args.cluster:
        return variant_main(args.action, brokers, cluster, "the cluster nodes")
    if args.secure:
        return variant_main(args.action, brokers, secure, "the secured brokers")
    try:
        if args.action == "up":
            statuses = up(brokers)
            print_table(statuses)
            return 0 if all(s.healthy for s in statuses) else 1
        elif args.action == "down":
            # The services beside the brokers need them: they stop first, and only with all three.
            everything = not args.brokers
            stopped = (services.down_all(args.clean) + lab_hosts_down()) if everything else []
            stopped += down(brokers)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")
        elif args.action == "restart":
            for broker in brokers:
                print(f"{broker}: restarted in {restart(broker):.1f} s")
        else:
            statuses = status(brokers)
            print_table(statuses)
            print_services()
            return 0 if all(s.healthy for s in statuses) else 1
    except (*FAILURES, TimeoutError, subprocess.TimeoutExpired) as exc:
        print(f"error: {explain(exc)}", file=sys.stderr)
        return 2
    return 0


def variant_main(action: str, names: tuple[str, ...], variant: ModuleType, what: str) -> int:
    """up/down/status for the clusters or the secured brokers: `variant` is either module."""
    try:
        if action == "restart":
            print(f"error: restart applies to the lab's brokers, not to {what}", file=sys.stderr)
            return 2
        if action == "down":
            stopped = variant.down(names)
            print(f"stopped: {', '.join(stopped)}" if stopped else f"none of {what} was running")
            return 0
        began = time.monotonic()
        statuses = variant.up(names) if action == "up" else variant.status(names)
        print(tabulate([s.__dict__ for s in statuses], headers="keys"))
        if action == "up":
            print(f"\nup in {time.monotonic() - began:.1f} s")
    except (*FAILURES, TimeoutError, subprocess.TimeoutExpired) as exc:
        print(f"error: {explain(exc)}", file=sys.stderr)
        return 2
    return 0 if all(s.healthy for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
