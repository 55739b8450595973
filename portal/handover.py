"""Replacing gunicorn's workers without a gap: an old worker serves until its successors are warm.

On HUP (a deploy, a reload) gunicorn starts new workers and at once tells the old ones to stop,
so while the new ones import the portal and its products nobody takes new connections: under
load, throughput fell from ~115 to ~21 requests a second for ~8 s. Here the master notes, as a
reload begins, the age of the last worker it started before it (`reloading`); each worker notes
when it is warm (`warm`: the app and every product loaded, just before it accepts); and an old
worker told to stop during a reload keeps serving until as many newer workers are warm as
gunicorn runs, or a deadline passes, and then stops as usual (`successors_warm`).

A new worker also waits (a few seconds at most) for the identity provider's signing keys
before it notes itself warm, so the first bearer token it gets is checked rather than answered
503: its keys are otherwise fetched in the background once it takes connections. With the
built-in development provider the issuer is the portal itself, answered by its own workers, so
the wait is only worth it while another worker is warm (a reload, or a worker started again);
at a first boot nobody could answer.

The notes are files in a folder of the master's own, so they need nothing but the file system
and survive the reload of gunicorn's configuration that a HUP also does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

_RELOAD = "reload"
_WARM = "warm."


class Handover:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def reloading(self, last_age: int) -> None:
        """The master: workers up to `last_age` are being replaced."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / _RELOAD).write_text(str(last_age))

    def warm(self, pid: int, age: int) -> None:
        """A worker: loaded, about to accept connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{_WARM}{pid}").write_text(str(age))

    def gone(self, pid: int) -> None:
        """The master: a worker exited."""
        (self.folder / f"{_WARM}{pid}").unlink(missing_ok=True)

    def replaced(self, age: int) -> bool:
        """Whether the worker of this age is being replaced by a reload (rather than stopped)."""
        last = self._number(self.folder / _RELOAD)
        return last is not None and age <= last

    def others_warm(self, pid: int) -> bool:
        """Whether a worker other than `pid` is warm: serving, or about to."""
        return any(path.name != f"{_WARM}{pid}" for path in self.folder.glob(f"{_WARM}*"))

    def successors_warm(self, count: int) -> bool:
        """Whether `count` workers started by the latest reload are warm."""
        last = self._number(self.folder / _RELOAD)
        if last is None:
            return True
        ages = [self._number(path) for path in self.folder.glob(f"{_WARM}*")]
        return sum(1 for age in ages if age is not None and age > last) >= count

    @staticmethod
    def _number(path: Path) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text())
        return None
