"""The stream-processing engines of the lessons, each in a Python environment of its own: Quix
Streams and PyFlink (Apache Flink's Python API) both pin packages the lab pins differently
(quixstreams 3.28 needs confluent-kafka<2.13, apache-flink 2.2 needs pandas<2.3), so neither
can live in .venv. Each environment is created once, from brokers/streams/<engine>-requirements.txt
(every package pinned), under the lab's cache; a change of pins makes a new one. Flink's Kafka SQL
connector jar comes from Maven Central (brokers/streams/pom.xml).

    from lab.brokers import engines
    engines.python("quix")      # its interpreter, created with progress on first use
    engines.connector_jar()     # the Kafka SQL connector for the PyFlink jobs

`python -m lab.brokers install` (run by `make programs`, `make test` and CI) creates both ahead
of their first use. Not for running pipelines (see helpers.streams).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import maven
from .config import TEMPLATES_DIR, LabError, cache_dir

REQUIREMENTS_DIR = TEMPLATES_DIR / "streams"
ENGINES = ("quix", "flink")
INSTALL_TIMEOUT_S = 900.0  # apache-flink and its dependencies are about 600 MB on disk


class EngineError(LabError):
    """An engine's environment could not be created; the message says why and what to do."""


def requirements(engine: str) -> Path:
    if engine not in ENGINES:
        raise EngineError(f"no stream engine called {engine!r}; the lab has: {', '.join(ENGINES)}")
    return REQUIREMENTS_DIR / f"{engine}-requirements.txt"


def environment_dir(engine: str) -> Path:
    """Where `engine`'s environment lives: named after a digest of its pins and the interpreter's
    version, so a change of either creates a new environment beside the old one."""
    pins = requirements(engine).read_bytes() + sys.version.encode()
    return cache_dir() / f"engine-{engine}-{hashlib.sha256(pins).hexdigest()[:12]}"


def python(engine: str) -> Path:
    """The interpreter of `engine`'s environment, created first if it is not there."""
    interpreter = environment_dir(engine) / "bin" / "python"
    if not interpreter.exists():
        install(engine)
    return interpreter


def install(engine: str) -> Path:
    """Create `engine`'s environment unless it exists; its folder. Built aside and renamed when
    complete, so an interrupted install never looks finished."""
    target = environment_dir(engine)
    if (target / "bin" / "python").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    uv = _uv()
    print(
        f"[engines] creating the {engine} environment ({'uv' if uv else 'pip'}, once per "
        f"machine; apache-flink is about 600 MB): {target}",
        flush=True,
    )
    began = time.monotonic()
    base = getattr(sys, "_base_executable", sys.executable)
    try:
        if uv:
            _run([uv, "venv", "--quiet", "--python", base, str(scratch)], engine)
            python = str(scratch / "bin" / "python")
            # compiled now, not by the first pipeline that imports it (a second or more each)
            pip = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
        else:
            _run([base, "-m", "venv", "--clear", str(scratch)], engine)
            pip = [str(scratch / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*pip, "-r", str(requirements(engine))], engine)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    scratch.rename(target)
    print(f"[engines] {engine} environment ready in {time.monotonic() - began:.0f} s", flush=True)
    return target


def connector_jar() -> Path:
    """Flink's Kafka SQL connector jar, fetched once from Maven Central."""
    pom = REQUIREMENTS_DIR / "pom.xml"
    lib = cache_dir() / f"flink-connectors-{hashlib.sha256(pom.read_bytes()).hexdigest()[:12]}"
    found = sorted(lib.glob("flink-sql-connector-kafka-*.jar"))
    if not found:
        maven.fetch_runtime_jars(
            pom,
            lib,
            "[engines] fetching Flink's Kafka SQL connector from Maven Central (once, 11 MB)",
            what="flink-sql-connector-kafka",
            error=EngineError,
        )
        found = sorted(lib.glob("flink-sql-connector-kafka-*.jar"))
    if not found:
        raise EngineError(f"Maven fetched no flink-sql-connector-kafka jar into {lib}: see {pom}")
    return found[0]


def install_all() -> list[str]:
    """Both environments and the connector jar; the engines installed."""
    for engine in ENGINES:
        install(engine)
    connector_jar()
    return list(ENGINES)


def _uv() -> str | None:
    """The uv the Makefile fetched into the lab's cache (the newest), else one on PATH."""
    fetched = sorted(cache_dir().glob("uv-*/bin/uv"))
    return str(fetched[-1]) if fetched else shutil.which("uv")


def _run(command: list[str], engine: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"creating the {engine} environment took over {INSTALL_TIMEOUT_S:.0f} s: is PyPI "
            "reachable? Run `python -m lab.brokers install` again once it is."
        ) from None
    if done.returncode != 0:
        raise EngineError(
            f"creating the {engine} environment failed ({' '.join(command[:3])} ...); is PyPI "
            f"reachable? Its output ends:\n{(done.stdout + done.stderr)[-1500:]}"
        )
