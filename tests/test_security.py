"""The secured brokers' provisioning and secrets: private files, no password in a process list,
a configuration or a notebook's output, and a clear failure when they are not running. What the
brokers refuse is notebook 13's subject (its asserts)."""

import json
import subprocess
import sys
import textwrap

import nbformat
import pytest

from helpers.brokers import credentials, secure
from helpers.brokers.config import PROJECT_ROOT as ROOT
from tests.conftest import USE_TESTCONTAINERS

pytestmark = pytest.mark.skipif(USE_TESTCONTAINERS, reason="the native secured brokers only")
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")  # stopped at the end of the run: notebook 13 finds them running
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


def test_status_shows_ports_and_health_and_no_secret(secured):
    rows = secure.status()
    assert [r.broker for r in rows] == ["kafka-secure", "rabbitmq-secure", "redis-secure"]
    assert all(r.healthy for r in rows)
    shown = repr(rows)
    assert not [
        p
        for p in json.loads((credentials.directory() / "passwords.json").read_text()).values()
        if p in shown
    ]


def test_require_names_the_fix_when_one_is_down(monkeypatch):
    monkeypatch.setattr(
        secure, "_answers", lambda b: "ConnectionRefusedError" if b.broker == "redis" else None
    )
    with pytest.raises(secure.SecureError, match=r"redis-secure .*make secure-up"):
        secure.require("kafka", "redis")


def test_the_command_line_takes_secure_or_cluster_not_both():
    done = subprocess.run(
        [sys.executable, "-m", "helpers.brokers", "status", "--secure", "--cluster"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_notebook_cell_that_prints_a_password_fails(pytester, secured, monkeypatch):
    leaky = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                textwrap.dedent("""\
        from helpers.brokers import credentials
        print("the writer logs in with", credentials.password("writer"))""")
            )
        ]
    )
    nbformat.write(leaky, pytester.path / "leaky.ipynb")
    pytester.makeconftest((ROOT / "notebooks" / "conftest.py").read_text())  # the lab's own guard
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the lab's tests package, from the temporary dir
    result = pytester.runpytest_subprocess(
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "leaky.ipynb",
        "-o",
        "addopts=",
    )
    result.assert_outcomes(failed=1)
    assert "writer's password: never print a secret" in result.stdout.str()
