"""Running the Java reference tools: the JVM, a classpath of cached jars, a heap cap, a deadline.

Kafka's tools run from the broker's own jar folder (`lab.brokers.native`); PerfTest from its
own folder, because it brings SLF4J 2 and Kafka's jars pin SLF4J 1.7. Not for parsing output.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
from pathlib import Path

from lab.brokers import install, maven
from lab.brokers.config import TEMPLATES_DIR, cache_dir

# Kafka's kafka-run-class.sh gives its tools 256 MB; PerfTest's scripts set none. One cap for all.
TOOL_HEAP = "512m"
PERF_TEST_POM = TEMPLATES_DIR / "perf-test" / "pom.xml"


class ToolFailed(RuntimeError):
    """A native tool is missing, failed or printed nothing we can read; the message says why."""


def java() -> str:
    path = install.find("java")
    if not path:
        raise ToolFailed(
            f"java is not installed: {install.install_command('java')} (or set JAVA_HOME)"
        )
    return path


def run_java(
    lib: Path,
    main_class: str,
    args: list[str],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    java_options: list[str] | None = None,
) -> str:
    """stdout + stderr of `java -cp '<lib>/*' main_class args`, or ToolFailed with the tail."""
    options = [f"-Xmx{TOOL_HEAP}", *(java_options or [])]
    command = [java(), *options, "-cp", f"{lib}/*", main_class, *args]
    return run(command, timeout_s=timeout_s, env=env, name=main_class.rsplit(".", 1)[-1])


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


LAST_RUN = {"cpu_s": float("nan")}  # the CPU of the last tool `run` ran: its rows report it


def run(
    command: list[str],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    name: str,
) -> str:
    cpu_before = children_cpu_s()
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=timeout_s,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{name} did not finish within {timeout_s:.0f} s") from None
    LAST_RUN["cpu_s"] = children_cpu_s() - cpu_before  # the tool's JVM or C process, reaped
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise ToolFailed(f"{name} exited with {done.returncode}:\n{text[-1500:]}")
    return text


def perf_test_version() -> str:
    found = re.search(r"<perf-test.version>([^<]+)<", PERF_TEST_POM.read_text())
    if found is None:
        raise ToolFailed(f"no <perf-test.version> in {PERF_TEST_POM}")
    return found.group(1)


def perf_test_lib() -> Path:
    """PerfTest's jars, fetched once from Maven Central into their own cache folder."""
    lib = cache_dir() / f"perf-test-{perf_test_version()}" / "lib"
    if not (lib / f"perf-test-{perf_test_version()}.jar").exists():
        _fetch(lib)
    return lib


def _fetch(lib: Path) -> None:
    announcement = (
        f"[bench] fetching RabbitMQ PerfTest {perf_test_version()} from Maven Central (once)"
    )
    maven.fetch_runtime_jars(PERF_TEST_POM, lib, announcement, what="PerfTest", error=ToolFailed)
