"""PostgreSQL 15 from Debian's package, run by the lab on 127.0.0.1:15432 with logical
replication on (wal_level=logical), for change data capture. Its configuration is
brokers/postgres/; Debian's default cluster (port 5432) is left stopped.

PostgreSQL refuses to run as root, so the server runs as the `postgres` user. That user cannot
enter the lab's state folder (0700, its owner's only), so the data folder lives in the
`postgres` user's home, one per state folder: /var/lib/postgresql/mq-lab/<digest>/data. The pid
and log stay under .brokers/postgres/ like every other service's. Deleting the state folder
leaves the data folder behind, so `make clean` (`python -m lab.brokers down --clean`) deletes it
through this service's `clean`.
Not for talking to it (see helpers.cdc.database)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from .. import install, state
from ..config import state_dir
from ..process import Launch, StartError, render, run_checked
from . import Service

PORT = 15432
USER = "postgres"  # the database superuser, and the operating-system user the server runs as
DATABASE = "postgres"
BIN = Path("/usr/lib/postgresql/15/bin")


def data_dir() -> Path:
    """This state folder's cluster, in the `postgres` user's home (see the module's text)."""
    digest = hashlib.sha256(str(state_dir()).encode()).hexdigest()[:12]
    return Path(_os_user().pw_dir) / "mq-lab" / digest / "data"


def _remove_data() -> None:
    """Delete this state folder's cluster, once the server has stopped (`make clean`), and the
    lab's folder in the `postgres` user's home if no other state folder's cluster is left."""
    try:
        mine = data_dir().parent
    except StartError:  # no `postgres` user: PostgreSQL was never installed, nothing to delete
        return
    if mine.exists():
        print(f"[services] deleting the PostgreSQL cluster in {mine}", flush=True)
        shutil.rmtree(mine)
    with contextlib.suppress(OSError):  # another state folder's cluster is still there
        mine.parent.rmdir()


def _os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        raise StartError(
            f"there is no {USER!r} user: install Debian's postgresql package "
            f"({install.install_command('postgres', 'postgresql-15', recommends=False)})"
        ) from None


def _install() -> None:
    installing = not (BIN / "postgres").is_file()
    install.ensure(str(BIN / "postgres"), "postgresql-15", recommends=False)
    install.ensure("psql", "postgresql-client-15", recommends=False)
    if installing and shutil.which("pg_ctlcluster"):
        # Debian's package creates a default cluster on port 5432 and may start it (systemd
        # units are disabled by `install.ensure`; without systemd, stop it here): the lab uses
        # its own cluster only.
        subprocess.run(
            ["pg_ctlcluster", "15", "main", "stop"], capture_output=True, timeout=60, check=False
        )


def _as_postgres() -> list[str]:
    """A command prefix that runs what follows as the `postgres` user, replacing itself (no
    parent left between the lab and the server, so the lab's signals reach the server)."""
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--"]


def _initdb(data: Path) -> None:
    user = _os_user()
    for folder in (data.parent.parent, data.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(folder, user.pw_uid, user.pw_gid)
    print(f"[services] creating the PostgreSQL cluster in {data} (once)", flush=True)
    run_checked(
        [
            *_as_postgres(),
            str(BIN / "initdb"),
            "--no-sync",  # a lab's cluster: a power cut during initdb is not worth waiting for
            "--encoding=UTF8",
            "--locale=C",
            f"--username={USER}",
            "--auth=trust",  # replaced at once by the lab's pg_hba.conf
            f"--pgdata={data}",
        ],
        "initdb",
    )


def _launch() -> Launch:
    data = data_dir()
    if not (data / "PG_VERSION").is_file():
        shutil.rmtree(data, ignore_errors=True)  # a half-made cluster from an interrupted initdb
        _initdb(data)
    user = _os_user()
    for name in ("postgresql.conf", "pg_hba.conf"):
        render(f"postgres/{name}.template", data / name, port=PORT)
        os.chown(data / name, user.pw_uid, user.pw_gid)
        (data / name).chmod(0o600)
    state.broker_dir("postgres").mkdir(parents=True, exist_ok=True)
    command = [*_as_postgres(), str(BIN / "postgres"), "-D", str(data)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return Launch(command, env, ready_timeout_s=60)


def _ready() -> str | None:
    done = subprocess.run(
        [str(BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(PORT), "-t", "2"],
        capture_output=True,
        timeout=10,
    )
    return None if done.returncode == 0 else f"127.0.0.1:{PORT} does not accept connections yet"


def _version() -> str:
    done = subprocess.run(
        ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(PORT), "-U", USER, "-d", DATABASE]
        + ["-c", "SHOW server_version"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        raise StartError(f"PostgreSQL on port {PORT} did not say its version: {done.stderr}")
    return done.stdout.strip().split()[0]


SERVICE = Service(
    name="postgres",
    ports={PORT: "PostgreSQL (SQL and logical replication), no password, loopback only"},
    memory_mb=60,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
    clean=_remove_data,
)
