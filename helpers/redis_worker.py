"""A Redis Streams consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.redis_worker --stream S --group G --consumer C --delay-ms 20 --record FILE

Reads --batch entries at a time; for each: record "processed <id>", XACK, record "acked <id>".
Killed mid-batch, the entries it read but did not ack stay in the group's pending entries list
(PEL) for another consumer to claim.
Exits after --idle-exit-ms without new entries.
"""

from __future__ import annotations

import argparse
import time

from helpers.redis_streams import client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--stream", "--group", "--consumer", "--record"):
        parser.add_argument(name, required=True)
    parser.add_argument("--url")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=10, help="entries per XREADGROUP")
    parser.add_argument("--idle-exit-ms", type=int, default=2000)
    args = parser.parse_args()

    r = client(args.url)
    with open(args.record, "a", buffering=1) as record:  # line-buffered: survives SIGKILL
        while True:
            batch = r.xreadgroup(
                args.group,
                args.consumer,
                {args.stream: ">"},
                count=args.batch,
                block=args.idle_exit_ms,
            )
            if not batch:
                return
            for entry_id, _fields in batch[0][1]:
                time.sleep(args.delay_ms / 1000)  # the "work"
                record.write(f"processed {entry_id}\n")
                r.xack(args.stream, args.group, entry_id)
                record.write(f"acked {entry_id}\n")


if __name__ == "__main__":
    main()
