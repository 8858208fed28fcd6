"""python -m helpers.brokers up|down|status|restart [broker ...]"""

from __future__ import annotations

import argparse
import sys

from tabulate import tabulate

from . import BROKERS, BrokerConfigError, ProvisionError, down, restart, status, up
from .docker import DockerError
from .install import MissingProgram
from .native import BrokerStartError
from .provision import BrokerStatus

FAILURES = (BrokerConfigError, ProvisionError, BrokerStartError, MissingProgram, DockerError)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.brokers", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "restart"])
    parser.add_argument("brokers", nargs="*", choices=[[], *BROKERS], metavar="broker")
    args = parser.parse_args(argv)
    brokers = tuple(args.brokers) or BROKERS
    try:
        if args.action == "up":
            statuses = up(brokers)
            print_table(statuses)
            return 0 if all(s.healthy for s in statuses) else 1
        elif args.action == "down":
            stopped = down(brokers)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")
        elif args.action == "restart":
            for broker in brokers:
                print(f"{broker}: restarted in {restart(broker):.1f} s")
        else:
            statuses = status(brokers)
            print_table(statuses)
            return 0 if all(s.healthy for s in statuses) else 1
    except FAILURES as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
