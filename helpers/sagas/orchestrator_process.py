"""The saga orchestrator as its own process, so a notebook can SIGKILL it mid-saga.

    python -m helpers.sagas.orchestrator_process --db sagas.db --commands C --replies R --group G \\
        [--die-after N]

`--die-after N` SIGKILLs it right after its N-th state change is saved, before the next command is
sent: the restarted orchestrator must re-send it. See `orchestrator` for the state machine.
"""

from __future__ import annotations

import argparse

from .orchestrator import SagaStore, orchestrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--db", "--commands", "--replies", "--group"):
        parser.add_argument(name, required=True)
    parser.add_argument("--url")
    parser.add_argument("--die-after", type=int, help="SIGKILL after this many state changes")
    args = parser.parse_args()
    orchestrate(
        SagaStore(args.db),
        args.commands,
        args.replies,
        args.group,
        url=args.url,
        die_after=args.die_after,
    )


if __name__ == "__main__":
    main()
