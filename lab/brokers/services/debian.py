"""Debian packages for the services, installed WITHOUT their recommended packages: Debian's
`prometheus` recommends the node exporter, which listens on every interface. A unit the package
enables for the system is disabled again, so a system copy never takes the lab's place.
Not for the brokers' own packages (see `lab.brokers.install`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

from ..process import StartError

_APT_LOCK = threading.Lock()  # apt/dpkg take a system-wide lock: one install at a time


def install_command(package: str) -> str:
    sudo = "" if os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install -y --no-install-recommends {package}"


def ensure(program: str, package: str) -> str:
    """Path of `program`, installing Debian's `package` without recommends when missing."""
    with _APT_LOCK:
        found = shutil.which(program)
        if found:
            return found
        if not shutil.which("apt-get"):
            raise StartError(f"{program} is not installed; install the {package!r} package.")
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        print(f"[services] {program} is missing; installing: {install_command(package)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock = ["-o", "DPkg::Lock::Timeout=120"]
        for step in (
            ["update", "-qq"],
            ["install", "-y", "-qq", "--no-install-recommends", package],
        ):
            done = subprocess.run(
                [*sudo, "apt-get", *lock, *step], env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise StartError(
                    f"installing {package} failed:\n{done.stderr[-800:]}\n"
                    f"Install it yourself: {install_command(package)}"
                )
        if shutil.which("systemctl"):  # the package enables its own unit on the default port
            subprocess.run(
                [*sudo, "systemctl", "disable", "--now", package], capture_output=True, timeout=120
            )
        found = shutil.which(program)
        if not found:
            raise StartError(f"{package} installed no {program}; install it yourself.")
        return found
