"""A loop running in a background thread whose failure is never silent.

    relay = Background(es.relay_until, store, url)   # called as relay_until(store, url, stop=…)
    ...
    relay.check()          # raises here, in the caller, if the loop died with an error
    relay.stop()           # sets the stop event, joins, and re-raises the loop's error

Not for processes (see `helpers.faults.WorkerProcess`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class BackgroundFailed(RuntimeError):
    """The background loop raised; the original exception is chained as its cause."""


class Background:
    def __init__(self, loop: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.stop_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._name = getattr(loop, "__name__", "loop")

        def run() -> None:
            try:
                self.result = loop(*args, stop=self.stop_event, **kwargs)
            except BaseException as exc:  # kept, and raised in the caller by check()/stop()
                self.error = exc

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def check(self) -> None:
        """Raise BackgroundFailed if the loop has died with an error."""
        if self.error is not None:
            raise BackgroundFailed(f"{self._name} failed: {self.error}") from self.error

    def stop(self, timeout_s: float = 30.0) -> Any:
        """Ask the loop to stop, wait for it, and return its result (or raise its error)."""
        self.stop_event.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._name} did not stop within {timeout_s} s")
        self.check()
        return self.result
