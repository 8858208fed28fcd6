"""The lab's PostgreSQL from Python through `psql`, its own command-line client: one statement
or one script per call, over TCP on loopback. Not for starting it (see
lab.brokers.services.postgres)."""

from __future__ import annotations

import fcntl
import os
import subprocess

# lab.brokers is imported where it is used: a relay process that only talks to PostgreSQL and
# Kafka starts in a fraction of a second without it (importing it takes seconds on a busy machine)


def ensure_running(timeout_s: float = 120.0) -> None:
    """Start the lab's PostgreSQL unless it runs (`services.ensure("postgres")`), one process at a
    time: a notebook and a test starting it at the same moment would each spawn a server."""
    from lab.brokers import services, state

    path = state.private_state_dir() / "postgres-start.lock"
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "a+") as handle:
        why = f"another process has been starting PostgreSQL for {timeout_s:.0f} s ({path})"
        state.flock_within(handle, fcntl.LOCK_EX, timeout_s, why)
        services.ensure("postgres")


class DatabaseError(RuntimeError):
    """PostgreSQL refused a statement; the message carries its own words."""


def psql_command() -> list[str]:
    """psql against the lab's PostgreSQL: no ~/.psqlrc, unaligned tab-separated rows, no
    headers, and the first error stops the script."""
    from lab.brokers.services import postgres

    output = ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    where = ["-h", "127.0.0.1", "-p", str(postgres.PORT), "-U", postgres.USER]
    return ["psql", *output, *where, "-d", postgres.DATABASE]


def run(script: str, timeout_s: float = 30.0) -> list[list[str]]:
    """Run `script` (one or more statements; each commits on its own unless the script says
    BEGIN ... COMMIT) and return the rows it printed, each a list of column texts."""
    from lab.brokers.services import postgres

    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    try:
        done = subprocess.run(
            psql_command(), input=script, capture_output=True, text=True, timeout=timeout_s, env=env
        )
    except subprocess.TimeoutExpired:
        raise DatabaseError(
            f"psql did not finish within {timeout_s:.0f} s; is the lab's PostgreSQL on port "
            f"{postgres.PORT} running (services.ensure('postgres'))?"
        ) from None
    if done.returncode != 0:
        raise DatabaseError(f"PostgreSQL refused the script: {done.stderr.strip()}")
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def scalar(query: str) -> str:
    """The single value `query` returns."""
    rows = run(query)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise DatabaseError(f"expected one value from {query!r}, got {rows!r}")
    return rows[0][0]


class Session:
    """One long-lived psql connection, for a process that queries again and again (a relay
    that polls, a service that writes one order after another): one server backend for its
    whole life, as a connection pool gives a real service, instead of one per statement.
    `application_name` names it in pg_stat_activity; `command` is psql's (`psql_command()`
    when None)."""

    _END = "--end-of-statement--"

    def __init__(self, application_name: str, command: list[str] | None = None) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["PGAPPNAME"] = application_name
        self._psql = subprocess.Popen(
            command or psql_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.backend_pid = int(self.run("SELECT pg_backend_pid()")[0][0])

    def run(self, script: str) -> list[list[str]]:
        """Run `script` on this connection; the rows it printed, as `run` returns them."""
        stdin, stdout = self._psql.stdin, self._psql.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        if not script.rstrip().endswith(";"):
            script += ";"  # psql runs a statement at its semicolon
        try:
            stdin.write(f"{script}\n\\echo {self._END}\n")
            stdin.flush()
        except BrokenPipeError:
            pass  # psql has exited: said below
        rows = []
        while (line := stdout.readline()) != f"{self._END}\n":
            if not line:  # psql exited: ON_ERROR_STOP after a refused statement, or a lost server
                error = self._psql.stderr.read() if self._psql.stderr else ""
                raise DatabaseError(f"PostgreSQL refused the script: {error.strip()}")
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
        return rows

    def close(self) -> None:
        if self._psql.poll() is None:
            self._psql.communicate("\\q\n", timeout=10)
