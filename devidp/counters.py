"""Counts of what the provider was asked, so tests can assert how often the portal called it
(for example: fifty concurrent requests at access-token expiry made exactly one refresh)."""

from __future__ import annotations

import threading
from collections import Counter


class RequestCounter(Counter[str]):
    """A Counter (missing keys read as 0, compares equal to a plain dict) that many request
    threads can add to at once. Per process: each gunicorn worker counts its own requests."""

    def __init__(self, *args: object, **kwargs: int) -> None:
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def add(self, key: str) -> None:
        with self._lock:
            self[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self)

    def reset(self) -> None:
        with self._lock:
            self.clear()
