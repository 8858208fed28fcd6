"""Change data capture's parts: the lab's PostgreSQL (logical WAL, loopback only, run as the
postgres user), what logical decoding hands a reader (committed transactions only), the Kafka
Connect worker's launch, and the audit that checks Debezium's events against the table."""

import os
import re
import uuid
from pathlib import Path

import pytest

from helpers.cdc import database, events
from helpers.cdc.events import Change
from lab.brokers import state
from lab.brokers.services import kafka_connect, postgres


@pytest.fixture(scope="module")
def running_postgres() -> None:
    database.ensure_running()


def _change(key: int, version: int, op: str, lsn: int) -> Change:
    row = {"id": key, "status": "placed", "version": version}
    value = {
        "before": row if op == "d" else None,
        "after": None if op == "d" else row,
        "op": op,
        "source": {"lsn": lsn},
    }
    return Change(partition=0, offset=lsn, key={"id": key}, value=value)


def test_the_audit_passes_a_complete_stream_and_counts_duplicates():
    stream = [_change(1, 1, "c", 10), _change(1, 2, "u", 20), _change(2, 1, "c", 30)]
    stream += [_change(2, 1, "d", 40), Change(0, 41, {"id": 2}, None), _change(1, 2, "u", 20)]
    report = events.audit(stream, {1: 2})
    assert report.exact
    assert report.duplicates == 1 and report.tombstones == 1
    assert dict(report.by_op) == {"c": 2, "u": 2, "d": 1}


def test_the_audit_finds_a_lost_update_a_reordering_a_lost_delete_and_a_missing_row():
    lost_update = [_change(1, 1, "c", 10), _change(1, 3, "u", 30)]
    assert events.audit(lost_update, {1: 3}).missing == [(1, 2)]
    reordered = [_change(1, 2, "u", 20), _change(1, 1, "c", 10)]
    assert events.audit(reordered, {1: 1}).out_of_order == [1]
    lost_delete = [_change(1, 1, "c", 10)]
    assert events.audit(lost_delete, {}).mismatched == [1]
    assert events.audit([], {7: 1}).missing == [(7, 1)]
    assert not events.audit(lost_update, {1: 3}).exact


def test_postgres_serves_logical_wal_on_loopback_only_as_the_postgres_user(running_postgres):
    assert database.scalar("SHOW wal_level") == "logical"
    assert database.scalar("SHOW listen_addresses") == "127.0.0.1"
    no_socket = "SELECT setting = '' FROM pg_settings WHERE name = 'unix_socket_directories'"
    assert database.scalar(no_socket) == "t"
    pid = state.running_pid("postgres")
    assert pid is not None
    uid = int(re.search(r"Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    assert uid == postgres._os_user().pw_uid != 0
    hba = (postgres.data_dir() / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules and all(rule[3] == "127.0.0.1/32" for rule in rules)


def test_a_refused_statement_says_what_postgres_said(running_postgres):
    with pytest.raises(database.DatabaseError, match="does not exist"):
        database.run("SELECT * FROM no_such_table_here")


def test_logical_decoding_hands_over_committed_transactions_only(running_postgres):
    """What Debezium relies on, read with PostgreSQL's own test_decoding plugin: a rolled-back
    transaction is not in the slot; a committed one is, and the slot keeps it until read."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    database.run(f"CREATE TABLE {name} (id int PRIMARY KEY)")
    database.run(f"SELECT pg_create_logical_replication_slot('{name}', 'test_decoding')")
    try:
        database.run(f"BEGIN; INSERT INTO {name} VALUES (1); ROLLBACK;")
        database.run(f"INSERT INTO {name} VALUES (2);")
        peek = f"SELECT data FROM pg_logical_slot_peek_changes('{name}', NULL, NULL)"
        inserts = [row[0] for row in database.run(peek) if row[0].startswith("table")]
        assert inserts == [f"table public.{name}: INSERT: id[integer]:2"]
        assert len(database.run(peek)) == len(database.run(peek)) > 0  # peeking consumes nothing
    finally:
        database.run(f"SELECT pg_drop_replication_slot('{name}'); DROP TABLE {name};")


def test_the_connect_worker_runs_on_loopback_with_debezium_at_pinned_versions(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))  # not the running worker's own file
    launch = kafka_connect._launch()
    config = (state.broker_dir("kafka-connect") / "worker.properties").read_text()
    assert f"listeners=http://127.0.0.1:{kafka_connect.PORT}" in config.splitlines()
    assert "plugin.discovery=service_load" in config.splitlines()
    assert "org.apache.kafka.connect.cli.ConnectStandalone" in launch.command
    assert not any("password" in part.lower() for part in launch.command)
    pom = kafka_connect.POM.read_text()
    assert "<connect.version>4.3.2</connect.version>" in pom
    assert "<debezium.version>3.6.1.Final</debezium.version>" in pom


def test_postgres_is_launched_as_the_postgres_user_without_a_secret(running_postgres):
    launch = postgres._launch()
    assert launch.command[:2] == ["setpriv", f"--reuid={postgres.USER}"]
    assert launch.command[-3:] == [str(postgres.BIN / "postgres"), "-D", str(postgres.data_dir())]
    assert not any(key.startswith("PG") for key in launch.env)
    mode = os.stat(postgres.data_dir()).st_mode & 0o777
    assert mode == 0o700
