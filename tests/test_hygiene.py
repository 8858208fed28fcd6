"""Hygiene of the sources: notebooks shaped as DESIGN.md says and committed without outputs,
environment.yml in sync with pyproject.toml, lint clean, and CI running the README's command."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from lab.book.navigation import MARKER, notebooks, update

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebooks()
REQUIRED_HEADINGS = [
    "You will learn",
    "Check yourself",
    "Try it",
    "Key takeaways",
    "Interview corner",
    "Clean-up",
]


def test_there_are_notebooks_and_they_are_named_nn_title():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d-[A-Z][A-Za-z0-9]*(-[A-Za-z0-9]+)*\.ipynb", path.name), path.name
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert len(numbers) == len(set(numbers)), "two notebooks share a number"


def test_the_notebooks_folder_holds_lessons_only():
    """JupyterLab opens in notebooks/: the learner's file browser shows the lessons, not the test
    plumbing (the nbval hooks live in tests/notebook_hooks.py)."""
    tracked = subprocess.run(
        ["git", "ls-files", "notebooks"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    others = [name for name in tracked if not name.endswith(".ipynb")]
    assert tracked and not others, f"not a lesson: {others}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert not dirty, f"cells {dirty} have outputs: clear them (Edit → Clear Outputs of All Cells)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_required_shape(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    missing = [h for h in REQUIRED_HEADINGS if h not in markdown]
    assert not missing, f"missing sections: {missing}"
    assert "<details>" in markdown, "the interview corner hides its answers in <details>"
    order = [_heading_index(notebook, h) for h in ("Check yourself", "Try it", "Key takeaways")]
    assert order == sorted(order) < [_heading_index(notebook, "Interview corner")] * 3, (
        "Check yourself, Try it and Key takeaways come in that order, before the Interview corner"
    )
    section = [notebook.cells[_heading_index(notebook, "Try it")]]
    section += _cells_after_heading(notebook, "Try it")
    exercises = "\n".join(c.source for c in section)
    assert 2 <= exercises.count("<summary>Answer") <= 4, "Try it: 2 to 4 exercises with answers"
    parameter_cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameter_cells) == 1, "exactly one code cell tagged 'parameters'"
    assert "require(" in code or "ensure(" in code, (
        "a notebook checks its brokers with lab.brokers.require (or starts them with ensure)"
    )
    assert "unique_name(" in code, "names of queues, topics and streams must be unique per run"
    check_cells = _cells_after_heading(notebook, "Check yourself")
    assert any("assert " in c.source for c in check_cells), "Check yourself has no assert"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_are_short(path):
    notebook = nbformat.read(path, as_version=4)
    long_cells = [
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and c.source.count("\n") >= 20
    ]
    assert not long_cells, f"cells {long_cells} are 20 lines or more: move plumbing to helpers/"


def test_navigation_links_are_current():
    assert not update(check=True), "run: python -m lab.book.navigation"
    for path in NOTEBOOKS:
        assert nbformat.read(path, as_version=4).cells[-1].source.startswith(MARKER)


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"README.md does not list {missing}"


def test_environment_yml_installs_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    minimum = re.search(r">=\s*([\d.]+)", project["requires-python"]).group(1)
    assert python == f"python={minimum}"
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-e .[dev]"], "conda users install from pyproject.toml, nothing else"
    assert "dev" in project["optional-dependencies"]


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    loose = [r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", r)]
    assert not loose, f"pin these with ==: {loose}"


def test_constraints_lock_every_dependency_at_its_pyproject_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    locked = dict(line.split("==") for line in lines if line.strip() and not line.startswith("#"))
    locked = {name.lower().replace("_", "-"): version for name, version in locked.items()}
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, version = requirement.split("==")
        name = name.split("[")[0].lower().replace("_", "-")
        assert locked.get(name) == version, f"constraints.txt has {name}=={locked.get(name)}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in readme


def test_ruff_is_clean_on_helpers_lab_tests_and_notebooks():
    paths = ["helpers", "lab", "tests", "notebooks"]
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", *paths], ["format", "--check", *paths]):
        done = subprocess.run(ruff + args, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def _heading_index(notebook, heading: str) -> int:
    return next(
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "markdown" and c.source.startswith(f"## {heading}")
    )


def _cells_after_heading(notebook, heading):
    cells = notebook.cells
    start = next(
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and heading in c.source
    )
    following = []
    for cell in cells[start + 1 :]:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## "):
            break
        following.append(cell)
    return following
