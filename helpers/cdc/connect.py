"""Debezium's PostgreSQL connector on the lab's Kafka Connect, through Connect's REST API:
the connector's configuration, creating it, waiting until its task runs, removing it with its
replication slot and publication. Not for starting Connect (see
lab.brokers.services.kafka_connect)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from typing import Any

from lab.brokers.services import kafka_connect, postgres

from . import database


class ConnectError(RuntimeError):
    """Kafka Connect refused a request or a connector did not reach RUNNING in time."""


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{kafka_connect.URL}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        raise ConnectError(f"{method} {path}: {exc.code} {exc.read().decode()[:500]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectError(
            f"Kafka Connect does not answer on {kafka_connect.URL} ({exc}); start it with "
            "services.ensure('kafka-connect')"
        ) from None
    return json.loads(text) if text else None


def postgres_source(name: str, table: str, **extra: str) -> dict[str, str]:
    """A Debezium PostgreSQL connector for `public.<table>` of the lab's database: pgoutput
    (PostgreSQL's built-in logical decoding plugin), a replication slot and a publication named
    after the connector, an initial snapshot, events on `<name>.public.<table>` (3 partitions).
    It waits 100 ms for new changes after a look that found none (`poll.interval.ms`; Debezium's
    default is 500 ms), so that a lesson waits less for each change."""
    slot = name.replace("-", "_")
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.port": str(postgres.PORT),
        "database.user": postgres.USER,
        "database.dbname": postgres.DATABASE,
        "topic.prefix": name,
        "table.include.list": f"public.{table}",
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": slot,
        "publication.autocreate.mode": "filtered",
        "snapshot.mode": "initial",
        "poll.interval.ms": "100",
        "topic.creation.default.partitions": "3",
        "topic.creation.default.replication.factor": "1",
        **extra,
    }


def create(name: str, config: dict[str, str]) -> None:
    """Create connector `name` (PUT: creating again with the same configuration is harmless)."""
    _call("PUT", f"/connectors/{name}/config", config)


def status(name: str) -> dict[str, Any]:
    found: dict[str, Any] = _call("GET", f"/connectors/{name}/status")
    return found


def wait_running(name: str, timeout_s: float = 60.0) -> float:
    """Wait until connector `name` and every task of it report RUNNING; the seconds it took.
    A FAILED task raises at once with the start of its trace."""
    began = time.monotonic()
    deadline, last = began + timeout_s, "no status yet"
    while time.monotonic() < deadline:
        try:
            found = status(name)
        except ConnectError as exc:
            last = str(exc)
        else:
            tasks = found.get("tasks", [])
            for task in tasks:
                if task["state"] == "FAILED":
                    raise ConnectError(f"task {task['id']} of {name} FAILED: {task['trace'][:800]}")
            states = [found["connector"]["state"], *(task["state"] for task in tasks)]
            if tasks and set(states) == {"RUNNING"}:
                return time.monotonic() - began
            last = f"connector and tasks are {states}"
        time.sleep(0.2)
    raise ConnectError(f"connector {name} not RUNNING within {timeout_s:.0f} s ({last})")


def remove(*names: str) -> None:
    """Delete each connector of `names` (if Connect runs and has it), then its replication slot
    and publication, which Debezium leaves behind by default so that a restart resumes. All
    connectors are deleted first, so their WAL senders exit together."""
    for name in names:
        with contextlib.suppress(ConnectError):  # not there, or Connect down: the slot goes anyway
            _call("DELETE", f"/connectors/{name}")
    for name in names:
        slot = name.replace("-", "_")
        query = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the slot stays active until the walsender exits
            active = database.run(query)
            if not active:
                break
            if active[0][0] == "f":
                database.run(f"SELECT pg_drop_replication_slot('{slot}')")
                break
            time.sleep(0.1)
        database.run(f"DROP PUBLICATION IF EXISTS {slot}")


def worker_log(containing: str) -> list[str]:
    """The lines of the Kafka Connect worker's log that contain `containing`, without their
    timestamp and logger name."""
    path = kafka_connect.log_file()
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line.split("] ", 1)[-1].rsplit(" (", 1)[0] for line in lines if containing in line]
