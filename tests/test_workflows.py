"""The GitHub Actions workflows users copy run what the lab's own CI runs, on the broker versions
the notebooks describe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _steps(workflow: str) -> list[str]:
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    return [step.get("run", "") for job in jobs.values() for step in job.get("steps", [])]


def _runs_in_debian_12(workflow: str, job: str) -> bool:
    return (
        yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["container"] == "debian:12"
    )


def test_ci_runs_the_commands_of_the_local_ci_in_that_order():
    local = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")
    ]
    assert local == ["make lint", "make test"]
    runs = [run.strip() for run in _steps("ci.yml") if run.strip().startswith("make ")]
    assert runs == local


def test_the_workflows_run_on_the_broker_versions_the_notebooks_describe():
    # Debian 12 ships RabbitMQ 3.10 and Redis 7.0, the versions whose behaviour the lessons state.
    assert _runs_in_debian_12("ci.yml", "test") and _runs_in_debian_12("book.yml", "build")


def test_the_book_workflow_publishes_what_make_book_builds():
    assert "make book" in [run.strip() for run in _steps("book.yml")]
    jobs = yaml.safe_load((WORKFLOWS / "book.yml").read_text())["jobs"]
    upload = [s for s in jobs["build"]["steps"] if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "build/book"


def test_the_dev_container_is_debian_12_and_runs_the_readmes_commands():
    text = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    config = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))  # JSON with comments
    assert config["image"].endswith("-bookworm")  # Debian 12: RabbitMQ 3.10 and Redis 7.0
    assert config["features"]["ghcr.io/devcontainers/features/java:1"]["version"] == "17"
    readme = (ROOT / "README.md").read_text()
    target = config["postCreateCommand"].removeprefix("make ")
    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert ".devcontainer/devcontainer.json" in readme and "make lab" in readme
    jupyter = re.search(r"^JUPYTER_PORT \?= (\d+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert jupyter and int(jupyter[1]) in config["forwardPorts"]  # make lab's JupyterLab
