"""Readiness checks that answer within a deadline, whatever the dependency behind them does.

A check that talks to a hung database or identity provider would otherwise hold `/readyz` for as
long as the driver waits, and a load balancer's health check would time out instead of learning
what is down. Each check runs on a thread of its own and the answer waits at most `deadline`; a
check still stuck from an earlier call is reported at once rather than started again, so a long
outage never piles up threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Check:
    """One named dependency: `run` raises when it is not usable; `failed` words the error. A
    check that reports a figure rather than passing returns it as text, which is its outcome."""

    def __init__(self, run: Callable[[], str | None], failed: Callable[[Exception], str]) -> None:
        self._run = run
        self._failed = failed
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[threading.Thread, dict[str, str]] | None:
        """The thread now running the check and where it puts its outcome; None while an
        earlier run is still stuck."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return None
            outcome: dict[str, str] = {}
            self._thread = threading.Thread(
                target=self._attempt, args=(outcome,), name="portal-readiness", daemon=True
            )
            self._thread.start()
            return self._thread, outcome

    def _attempt(self, outcome: dict[str, str]) -> None:
        try:
            figure = self._run()
        except Exception as error:  # any failure means "not usable"; the words say which
            outcome["result"] = self._failed(error)
        else:
            outcome["result"] = "ok" if figure is None else figure


def run_checks(checks: dict[str, Check], deadline: float) -> dict[str, str]:
    """Every check's outcome, "ok" or what is wrong, within `deadline` seconds in all."""
    started = {name: check.start() for name, check in checks.items()}
    until = time.monotonic() + deadline
    results = {}
    for name, running in started.items():
        if running is not None:
            thread, outcome = running
            thread.join(max(0.0, until - time.monotonic()))
            if "result" in outcome:
                results[name] = outcome["result"]
                continue
        results[name] = f"not answering within {deadline:g} s"
    return results
