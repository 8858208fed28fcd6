"""The secured brokers' provisioning and secrets: private files, no password in a process list,
a configuration or a notebook's output, and a clear failure when they are not running. What the
brokers refuse is notebook 13's subject (its asserts)."""

import contextlib
import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import nbformat
import pika
import pytest
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from helpers.naming import unique_name
from helpers.redis_streams.worker import start_worker
from lab.bench.native import redis_benchmark
from lab.bench.settings import RedisSettings, Workload
from lab.brokers import credentials, secure
from lab.brokers.config import PROJECT_ROOT as ROOT
from tests.conftest import USE_TESTCONTAINERS

pytestmark = pytest.mark.skipif(USE_TESTCONTAINERS, reason="the native secured brokers only")
pytest_plugins = ["pytester"]


# Module scope: stopped (if this file started them) before another file may take them, as the
# test locks of parallel runs expect (tests/sharing.py).
@pytest.fixture(scope="module")
def secured():
    started = not all(s.healthy for s in secure.status())
    secure.up()
    yield
    if started:
        secure.down()


def test_every_secret_is_readable_by_its_owner_only():
    credentials.ensure()
    assert credentials.directory().stat().st_mode & 0o777 == 0o700
    modes = {p.name: p.stat().st_mode & 0o777 for p in credentials.directory().iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes


def test_no_password_in_a_process_list_or_a_configuration_but_kafkas(secured):
    passwords = json.loads((credentials.directory() / "passwords.json").read_text()).values()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [p for p in passwords if p in processes]
    redis_conf = (secure.state.broker_dir("redis-secure") / "redis.conf").read_text()
    assert not [p for p in passwords if p in redis_conf]  # SHA-256 hashes only
    kafka_conf = secure.state.broker_dir("kafka-secure") / "server.properties"
    assert kafka_conf.stat().st_mode & 0o777 == 0o600  # it holds the broker's own logins
    assert not (secure.state.broker_dir("kafka-secure") / "format.args").exists()


def test_status_shows_ports_and_health_and_no_secret(secured, monkeypatch):
    rows = secure.status()
    assert [r.broker for r in rows] == ["kafka-secure", "rabbitmq-secure", "redis-secure"]
    assert all(r.healthy for r in rows)
    # A probe whose error carries the URL it used, password and all (as a client's error may):
    # the status row shows the error, never the password.
    admin = credentials.password("admin")

    def refused(user, **options):
        raise redis.ConnectionError(f"Error connecting to rediss://default:{admin}@localhost:6390")

    monkeypatch.setattr(secure, "redis_client", refused)
    [row] = secure.status(("redis",))
    leaked = admin in repr(row)
    assert not row.healthy and "ConnectionError: Error connecting to rediss://" in row.detail
    assert not leaked, "the status row shows the administrator's password"
    with pytest.raises(secure.SecureError) as refusal:
        secure.require("redis")
    leaked = admin in str(refusal.value)
    assert not leaked, "the error shows the administrator's password"


def test_require_names_the_fix_when_one_is_down(monkeypatch):
    monkeypatch.setattr(
        secure, "_answers", lambda b: "ConnectionRefusedError" if b.broker == "redis" else None
    )
    with pytest.raises(secure.SecureError, match=r"redis-secure .*make secure-up"):
        secure.require("kafka", "redis")


def test_the_command_line_takes_secure_or_cluster_not_both():
    done = subprocess.run(
        [sys.executable, "-m", "lab.brokers", "status", "--secure", "--cluster"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_notebook_cell_that_prints_a_password_fails(pytester, secured, monkeypatch):
    leaky = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                textwrap.dedent("""\
        from lab.brokers import credentials
        print("the writer logs in with", credentials.password("writer"))""")
            ),
            nbformat.v4.new_code_cell('raise PermissionError(credentials.password("reader"))'),
        ]
    )
    nbformat.write(leaky, pytester.path / "leaky.ipynb")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the lab's tests package, from the temporary dir
    result = pytester.runpytest_subprocess(
        "-p",
        "tests.notebook_hooks",  # the lab's own guard, as make test loads it
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "leaky.ipynb",
        "-o",
        "addopts=",
    )
    result.assert_outcomes(failed=2)
    report = result.stdout.str()
    assert "writer's password: never print a secret" in report
    assert "reader's password: never print a secret" in report  # a failed cell's output too
    leaked = credentials.password("reader") in report
    assert not leaked, "the failed cell's report shows the reader's password"


def test_a_new_labs_state_folder_and_secrets_are_private_from_the_start(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("LAB_STATE_DIR", str(state))
    credentials.ensure()
    modes = {p.name: p.stat().st_mode & 0o777 for p in credentials.directory().iterdir()}
    assert state.stat().st_mode & 0o777 == 0o700  # the cookies, pid files and logs too
    assert credentials.directory().stat().st_mode & 0o777 == 0o700
    assert set(modes.values()) == {0o600} and len(modes) == 6, modes
    state.chmod(0o755)  # a folder made before the lab closed it
    with secure.state.locked():
        assert state.stat().st_mode & 0o777 == 0o700


ENSURE_AND_REPORT = """
import hashlib, json, os, sys, time
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lab.brokers import credentials
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():  # every process imported: all ask at the same moment
    time.sleep(0.001)
m = credentials.ensure()
key = serialization.load_pem_private_key(m.key.read_bytes(), None).public_key()
certificate = x509.load_pem_x509_certificate(m.certificate.read_bytes()).public_key()
passwords = {u: credentials.password(u) for u in credentials.USERS}
print(json.dumps({"pair": key == certificate,
                  "passwords": hashlib.sha256(json.dumps(passwords).encode()).hexdigest()}))
"""


def test_starts_at_once_make_one_whole_set_of_secrets(tmp_path):
    """Six processes ask for the secrets of a new lab at the same moment: one generates them
    (under the lock, in a folder renamed into place); all see the same passwords, and the key
    is the certificate's."""
    env = {**os.environ, "LAB_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    ready, go = [tmp_path / f"ready-{i}" for i in range(6)], tmp_path / "go"
    arguments = [[sys.executable, "-c", ENSURE_AND_REPORT, str(flag), str(go)] for flag in ready]
    processes = [
        subprocess.Popen(a, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for a in arguments
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    reports = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * len(ready), [err[-500:] for _, err in reports]
    seen = [json.loads(out) for out, _ in reports]
    assert all(s["pair"] for s in seen), seen  # no key of one run beside another's certificate
    assert len({s["passwords"] for s in seen}) == 1, seen  # one set of passwords for everyone
    left = [p.name for p in (tmp_path / "state").iterdir() if p.name.startswith(".secure-")]
    assert not left, left  # no scratch folder left behind


def _rotate(path, *users):
    """The password file with new passwords for `users` (as a new file would have)."""
    changed = json.loads(path.read_text())
    changed |= {u: f"rotated-{secrets.token_urlsafe(18)}" for u in users}
    credentials.write_private(path, json.dumps(changed))


@pytest.fixture
def password_file():
    """The password file, put back afterwards, and the brokers given its passwords again."""
    path = credentials.passwords_file()
    original = path.read_text()
    try:
        yield path
    finally:
        credentials.write_private(path, original)
        secure.up()


def _kafka_login(user):
    AdminClient({**secure.kafka_config(user), "log_level": 0}).list_topics(timeout=10)


def test_a_new_password_file_reaches_the_brokers_or_names_the_fix(secured, password_file):
    """The applications' passwords change: a start gives every broker the file's passwords
    (RabbitMQ's user database, Kafka's SCRAM users in its metadata, a running Redis's ACL).
    The administrator's changes too: Kafka's SCRAM users are then out of reach (only the
    administrator may change them), and a running Redis refuses it; a start says so at once,
    naming the fix, instead of waiting for a login that cannot succeed."""
    _rotate(password_file, "orders-app", "writer")
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):  # before: the old ones
        pika.BlockingConnection(secure.rabbitmq_parameters("orders-app", "orders"))
    with pytest.raises(redis.AuthenticationError):
        secure.redis_client("writer").ping()
    with pytest.raises(KafkaException):
        _kafka_login("writer")

    secure.up()

    pika.BlockingConnection(secure.rabbitmq_parameters("orders-app", "orders")).close()
    assert secure.redis_client("writer").ping()
    _kafka_login("writer")

    _rotate(password_file, "admin")
    with pytest.raises(secure.SecureError, match=r"kafka-secure's users .*make secure-down"):
        secure.up(("kafka",), timeout_s=20)
    with pytest.raises(secure.SecureError, match=r"redis-secure refuses .*Restart it"):
        secure.up(("redis",), timeout_s=20)


def _command_lines() -> dict[int, str]:
    """Every process's command line, as any local user may read it in /proc."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                text = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                lines[int(entry.name)] = text.decode(errors="replace")
    return lines


def test_no_lasting_password_on_a_command_line_while_a_benchmark_and_a_worker_run(
    secured, tmp_path, monkeypatch
):
    """The secured Redis (a password needed) as the lab's Redis: redis-benchmark runs against
    it with a one-time user, and a crashable worker gets its URL, password and all, through its
    environment. While both run, no command line shows a password of the lab's."""
    admin = credentials.password("admin")
    url = f"redis://:{quote(admin, safe='')}@localhost:{secure.REDIS.plain_port}/0"
    r = secure.redis_client(None, tls=False)
    stream = f"stream:{unique_name('t-cmdline')}"
    r.xgroup_create(stream, "workers", id="0", mkstream=True)
    for i in range(40):
        r.xadd(stream, {"data": json.dumps({"order_id": i, "amount": 1})})
    # Started while REDIS_URL names the lab's own Redis: only `url` leads it to the stream.
    monkeypatch.delenv("REDIS_URL", raising=False)
    worker = start_worker(stream, "workers", "c1", work_s=0.05, workdir=tmp_path, url=url)
    monkeypatch.setenv("REDIS_URL", url)  # the benchmark's Redis: the secured one
    pool = ThreadPoolExecutor(max_workers=1)
    settings, workload = RedisSettings(producers=1, pipeline=1), Workload(count=100_000)
    bench = pool.submit(redis_benchmark.throughput, settings, workload)
    seen: dict[int, str] = {}
    users_during: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        while not any("redis-benchmark" in line for line in seen.values()):
            assert time.monotonic() < deadline, "redis-benchmark never started"
            seen |= _command_lines()
            users_during |= set(r.acl_users())
        seen |= _command_lines()
        assert worker.wait_for(40, timeout_s=60) == 40  # the worker reached Redis with its URL
    finally:
        bench.result(timeout=120)
        pool.shutdown()
        worker.wait(timeout_s=30)
        r.delete(stream)
    lasting = set(json.loads(credentials.passwords_file().read_text()).values())
    shown = [pid for pid, line in seen.items() if any(p in line for p in lasting)]
    assert not shown, f"processes {shown} show a lab password on their command line"
    assert any(u.startswith("bench-once-") for u in users_during)  # the benchmark's own user...
    assert not [u for u in r.acl_users() if u.startswith("bench-once-")]  # ...deleted after it
