"""The suite's tiers: every test says what it starts, so a run can pick the fast ones.

Each test carries exactly one tier marker (a module's `pytestmark`, or a test's own mark where a
module mixes tiers); collection fails otherwise, so a new module cannot forget. The heavy tiers
are handed out first: with several workers (pytest-xdist) a long scan or a module of gunicorn
restarts that started last would be the run's tail.
"""

from __future__ import annotations

import pytest

#: Lightest first. `unit`: no server and no socket of the test's own; `site`: the portal
#: in-process or on a werkzeug server in a thread; `gunicorn`: real gunicorn, nginx, a private
#: mariadbd or redis-server; `browser`: headless Chromium; `e2e`: a whole deployment (the quick
#: start from a fresh clone, the outside scanner).
TIERS = ("unit", "site", "gunicorn", "browser", "e2e")


#: A product's own tests (`apps/<tier>/<name>/test_*.py`) drive it in-process through the kit's
#: fixtures: they are `unit` without saying so, as a product developer writes no test plumbing.
PRODUCT_TESTS_TIER = "unit"


def tiers_of(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers() if mark.name in TIERS}


def misfiled(items: list[pytest.Item]) -> list[str]:
    """The tests whose tier is missing or ambiguous, each with what it carries."""
    return [
        f"{item.nodeid}: {', '.join(sorted(tiers)) or 'no tier'}"
        for item in items
        if len(tiers := tiers_of(item)) != 1
    ]


def _weight(items: list[pytest.Item]) -> int:
    return max(TIERS.index(tier) for item in items for tier in tiers_of(item))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the collection if a test has no tier or two; order modules heaviest tier first.

    It runs before `-m` deselects anything, so `make test-fast` catches an untiered test too.
    The failure is a collection error, which pytest-xdist's workers report like any other.
    The sort is stable: within a tier the tests keep pytest's order, which groups them by their
    parametrized session fixtures (the live sites)."""
    products = config.rootpath / "apps"
    for item in items:
        if item.path.is_relative_to(products) and not tiers_of(item):
            item.add_marker(PRODUCT_TESTS_TIER)
    if wrong := misfiled(items):
        message = (
            "every test needs exactly one tier marker "
            f"({', '.join(TIERS)}; see docs/explanation/testing.md):\n  " + "\n  ".join(wrong)
        )
        report = pytest.CollectReport("tiers", "failed", message, [])
        config.hook.pytest_collectreport(report=report)
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    weights = {name: _weight(group) for name, group in modules.items()}
    items.sort(key=lambda item: -weights[item.nodeid.split("::")[0]])


def on_server(value: object, server: str) -> object:
    """A fixture parameter for a portal run by `server` ("werkzeug" in a thread, or "gunicorn"),
    which puts the tests it reaches in that server's tier."""
    tier = {"werkzeug": pytest.mark.site, "gunicorn": pytest.mark.gunicorn}[server]
    return pytest.param(value, marks=tier)
