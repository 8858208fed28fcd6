"""Find the programs the lab needs (the native brokers', the services' beside them, Graphviz's `dot`
for the diagrams, and the book's Chromium), installing them with apt-get where that is possible.

Where it is not (another platform, no root and no sudo) the error names the exact command to run.
Not for running the programs.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import threading
from pathlib import Path

from .base import LabError


class MissingProgram(LabError):
    """A program a broker needs is not installed and could not be installed here."""


# program -> (Debian/Ubuntu package, Homebrew formula)
PACKAGES = {
    "java": ("openjdk-17-jre-headless", "openjdk@17"),
    "mvn": ("maven", "maven"),
    "rabbitmq-server": ("rabbitmq-server", "rabbitmq"),
    "redis-server": ("redis-server", "redis"),
    "chromium": ("chromium", "--cask chromium"),  # prints the revision book to PDF
    "pdftotext": ("poppler-utils", "poppler"),  # reads the PDF back in the book's test
    "dot": ("graphviz", "graphviz"),  # draws the notebooks' diagrams (helpers.diagrams)
    "nft": ("nftables", "nftables"),  # cuts the links between the lab's own hosts (netns)
}

# Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user, who cannot write the
# project's folders; the script behind it runs as the calling user.
EXTRA_LOCATIONS = {
    "rabbitmq-server": [
        "/usr/lib/rabbitmq/bin/rabbitmq-server",
        "/opt/homebrew/sbin/rabbitmq-server",
        "/usr/local/sbin/rabbitmq-server",
    ],
}


def install_command(program: str, package: str | None = None, *, recommends: bool = True) -> str:
    """The command that installs `program` (from `package`, else its row of PACKAGES)."""
    debian, brew = PACKAGES[program] if package is None else (package, None)
    if platform.system() == "Darwin" and brew:
        return f"brew install {brew}"
    if _is_debian_like():
        sudo = "" if _is_root() else "sudo "
        options = "-y" if recommends else "-y --no-install-recommends"
        return f"{sudo}apt-get update && {sudo}apt-get install {options} {debian}"
    return f"install the '{debian}' package with your system's package manager"


def find(program: str) -> str | None:
    for candidate in EXTRA_LOCATIONS.get(program, []):
        if os.access(candidate, os.X_OK):
            return candidate
    if program == "java" and os.environ.get("JAVA_HOME"):
        java = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        if os.access(java, os.X_OK):
            return str(java)
    return shutil.which(program)


# Brokers start side by side, but apt/dpkg take a system-wide lock: install one at a time.
_APT_LOCK = threading.Lock()
_APT_STATE = {"updated": False}  # one `apt-get update` per process is enough


def ensure(program: str, package: str | None = None, *, recommends: bool = True) -> str:
    """Path of `program`, installing it with apt-get when missing and root/sudo allows: from
    `package`, else from its row of PACKAGES. `recommends=False` leaves out the packages
    Debian recommends beside it (Debian's `prometheus` recommends the node exporter, which
    listens on every interface). The system service the package starts is stopped and
    disabled: the lab runs its own copy, on ports of its own."""
    path = find(program)
    if path:
        return path
    with _APT_LOCK:
        return find(program) or _install(program, package, recommends)


def _install(program: str, package: str | None, recommends: bool) -> str:
    command = install_command(program, package, recommends=recommends)
    if _can_apt_install():
        print(f"[lab] {program} is missing; installing: {command}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        sudo = [] if _is_root() else ["sudo", "-n"]
        debian = package or PACKAGES[program][0]
        wait_for_lock = ["-o", "DPkg::Lock::Timeout=120"]
        options = [] if recommends else ["--no-install-recommends"]
        steps = [["apt-get", *wait_for_lock, "install", "-y", "-qq", *options, debian]]
        if not _APT_STATE["updated"]:
            steps.insert(0, ["apt-get", *wait_for_lock, "update", "-qq"])
        for args in steps:
            done = subprocess.run(sudo + args, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise MissingProgram(
                    f"{program} is missing and '{' '.join(args)}' failed:\n{done.stderr[-800:]}\n"
                    f"Install it yourself: {command}"
                )
            _APT_STATE["updated"] = True
        _stop_system_service(debian, sudo)
        path = find(program)
        if path:
            return path
        raise MissingProgram(f"{debian} installed no {program}. Install it yourself: {command}")
    raise MissingProgram(f"{program} is not installed. Install it with: {command}")


def _stop_system_service(package: str, sudo: list[str]) -> None:
    # Debian's packages of a server (rabbitmq-server, redis-server, prometheus, its exporters)
    # start a system-wide copy under the package's name, on the default port; the lab runs its
    # own, so the one the install just started is stopped and disabled. A package without such
    # a unit is refused by systemctl, which is harmless.
    if shutil.which("systemctl"):
        subprocess.run(
            [*sudo, "systemctl", "disable", "--now", package], capture_output=True, timeout=120
        )


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means Java 8


def _is_debian_like() -> bool:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return False
    ids = {release.get("ID", "")} | set(release.get("ID_LIKE", "").split())
    return bool(ids & {"debian", "ubuntu"})


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _can_apt_install() -> bool:
    if not _is_debian_like() or not shutil.which("apt-get"):
        return False
    if _is_root():
        return True
    if not shutil.which("sudo"):
        return False
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
