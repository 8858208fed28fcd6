"""Hooks for the notebooks that nbval runs as tests, loaded as a plugin (`-p tests.notebook_hooks`
in pyproject.toml) so that notebooks/ holds the lessons only: the brokers beyond the lab's three
that some notebooks need, started before their first cell and stopped after their last; and no
secret in any cell's output, since the book is built from those outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lab.brokers import extras, leaks

# --- brokers beyond the lab's three, for the notebooks that need them ---------------------------


_stops: dict[str, Callable[[], object] | None] = {}  # notebook -> how to stop what we started


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first cell of a notebook that needs more brokers, start those not running."""
    name = item.path.name
    if item.path.suffix == ".ipynb" and name in extras.NEEDED_BY and name not in _stops:
        _stops[name] = None  # tried once: if the start fails, this cell fails, the rest at once
        _stops[name] = extras.start_for(name)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After its last cell, stop them again if this session started them."""
    name, last_cell = item.path.name, nextitem is None or nextitem.path != item.path
    stop = _stops.pop(name, None) if last_cell else None
    if stop is not None:
        stop()


# --- no secret in any notebook's output ----------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail a notebook cell whose output (or failure report) shows a secret of the lab: a
    password of the secured brokers, the field key, an Erlang cookie, a private key. The book is
    built from these outputs, and the report is printed: the secret is removed from it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if call.when != "call" or item.path.suffix != ".ipynb":
        return
    secrets = leaks.known_secrets()
    failure = str(report.longrepr) if report.failed and report.longrepr else ""
    shown = leaks.leaks(leaks.output_text(getattr(item, "test_outputs", None)) + failure, secrets)
    if shown:
        report.outcome = "failed"
        before = leaks.redact(failure, secrets) + "\n" if failure else ""
        report.longrepr = (
            f"{before}this cell's output shows {', '.join(shown)}: never print a secret"
        )
