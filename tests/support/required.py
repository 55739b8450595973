"""What a test needs from the machine: skipped on a laptop without it, a failure in CI, where
every tier of the suite must run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str, tests: str) -> NoReturn:
    """`tests` names what would go unrun, for the CI failure's message."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (the {tests} tests are required in CI)")
    pytest.skip(message)
