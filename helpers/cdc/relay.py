"""The polling outbox relay on PostgreSQL, the one change data capture is compared with: a
process that asks the outbox table for unsent rows, publishes them to Kafka (keyed by
aggregateid, the row's id in an `id` header), and marks them sent once Kafka has acknowledged
them; when it finds none it waits `interval_s` before asking again. A kill between the
acknowledgement and the mark publishes those rows again (duplicates), never loses one.

    python -m helpers.cdc.relay --table T --topic P --interval-s 0.1 --name N

Its Kafka settings and its psql command come in its environment (they may hold secrets), from
`start_relay`. It runs until SIGTERM (then it closes its connection, and PostgreSQL counts its
reads) or SIGKILL. It imports neither the lab's engine nor pandas, so it starts in a fraction of
a second. Not for the outbox relayed by Debezium (see `outbox`)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

from . import database

BATCH = 500
SETTINGS_VARIABLE = "LAB_RELAY_SETTINGS"  # {"kafka": {...}, "psql": [...]}, never on argv


def relay_once(session: database.Session, table: str, topic: str, sink: Producer) -> int:
    """Publish the unsent rows (oldest first, up to a batch) and mark them sent; how many."""
    rows = session.run(
        f"SELECT id, aggregateid, payload FROM {table} WHERE sent_at IS NULL"
        f" ORDER BY seq LIMIT {BATCH}"
    )
    for event_id, key, payload in rows:
        sink.produce(topic, key=json.dumps(key), value=payload, headers=[("id", event_id)])
    if not rows:
        return 0
    if left := sink.flush(30):  # nothing is marked sent unless Kafka acknowledged it
        raise RuntimeError(f"{left} events not acknowledged by Kafka within 30 s")
    marked = ", ".join(f"'{event_id}'" for event_id, _key, _payload in rows)
    session.run(f"UPDATE {table} SET sent_at = now() WHERE id IN ({marked})")
    return len(rows)


class RelayProcess:
    """A running relay: its process, and its output in `<workdir>/<name>.log`."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
        self.name, self.process, self.log_file = name, process, log_file

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last mark, exactly like a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM: the relay finishes its pass and closes its connection. Returns its exit
        code once the server process that served it is gone too (it reports its counts to
        PostgreSQL's statistics as it exits)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"relay {self.name} did not stop within {timeout_s} s") from None
        query = f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{self.name}'"
        deadline = time.monotonic() + timeout_s
        while database.scalar(query) != "0":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}'s connection still open {timeout_s} s after exit")
            time.sleep(0.05)
        return code


def start_relay(
    table: str, topic: str, *, interval_s: float, name: str, workdir: Path | str
) -> RelayProcess:
    """Run the relay in a process of its own, its connection named `name` in pg_stat_activity."""
    from lab.brokers.config import kafka_config

    settings = {"kafka": kafka_config(), "psql": database.psql_command()}
    env = {**os.environ, SETTINGS_VARIABLE: json.dumps(settings)}
    log_file = Path(workdir) / f"{name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    args = ["--table", table, "--topic", topic, "--interval-s", str(interval_s), "--name", name]
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "helpers.cdc.relay", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return RelayProcess(name, process, log_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--table", "--topic", "--name"):
        parser.add_argument(option, required=True)
    parser.add_argument("--interval-s", type=float, default=0.1)
    args = parser.parse_args()
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
    session = database.Session(args.name, settings["psql"])
    sink = Producer({**settings["kafka"], "acks": "all", "enable.idempotence": True})
    print(f"relaying {args.table} to {args.topic}, waiting {args.interval_s} s when idle")
    while not stop.is_set():
        if not relay_once(session, args.table, args.topic, sink):
            stop.wait(args.interval_s)
    session.close()


if __name__ == "__main__":
    main()
