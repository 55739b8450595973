"""The suite's tiers: every test says what it starts, so a run can pick the fast ones.

Each test carries exactly one tier marker (a module's `pytestmark`, or a test's own mark where a
module mixes tiers); collection fails otherwise, so a new module cannot forget.

The heavy tiers are handed out first, and within a tier the modules that took longest last time
(pytest's cache keeps each module's seconds): with several workers (pytest-xdist, a module to a
worker) a long module that started last would be the run's tail.
"""

from __future__ import annotations

import pytest

#: Lightest first. `unit`: no server and no socket of the test's own; `site`: the portal
#: in-process or on a werkzeug server in a thread; `gunicorn`: real gunicorn, nginx, a private
#: mariadbd or redis-server; `browser`: headless Chromium; `e2e`: a whole deployment (the quick
#: start from a fresh clone, the outside scanner).
TIERS = ("unit", "site", "gunicorn", "browser", "e2e")

#: pytest's cache key for the seconds each module took in the last run that ran it.
SECONDS_KEY = "tiers/module-seconds"

_seconds: dict[str, float] = {}
_last: list[dict[str, float]] = []


def tiers_of(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers() if mark.name in TIERS}


def misfiled(items: list[pytest.Item]) -> list[str]:
    """The tests whose tier is missing or ambiguous, each with what it carries."""
    return [
        f"{item.nodeid}: {', '.join(sorted(tiers)) or 'no tier'}"
        for item in items
        if len(tiers := tiers_of(item)) != 1
    ]


def module_of(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _weight(items: list[pytest.Item]) -> int:
    return max(TIERS.index(tier) for item in items for tier in tiers_of(item))


def _cache(config: pytest.Config) -> pytest.Cache | None:
    """pytest's cache, where there is one (`-p no:cacheprovider` turns it off)."""
    return getattr(config, "cache", None)


def last_seconds(config: pytest.Config) -> dict[str, float]:
    """Each module's seconds in the last run, read once: pytest-xdist's workers get the
    controller's reading, since every worker must collect the tests in the same order."""
    if (given := getattr(config, "workerinput", {}).get(SECONDS_KEY)) is not None:
        return given
    if not _last:
        cache = _cache(config)
        _last.append(cache.get(SECONDS_KEY, {}) if cache is not None else {})
    return _last[0]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    node.workerinput[SECONDS_KEY] = last_seconds(node.config)  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the collection if a test has no tier or two; order modules heaviest tier first.

    It runs before `-m` deselects anything, so `make test-fast` catches an untiered test too.
    The failure is a collection error, which pytest-xdist's workers report like any other.
    The sort is stable: a module's tests keep pytest's order."""
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
        modules.setdefault(module_of(item.nodeid), []).append(item)
    last = last_seconds(config)
    order = {name: (-_weight(group), -last.get(name, 0.0)) for name, group in modules.items()}
    items.sort(key=lambda item: order[module_of(item.nodeid)])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    module = module_of(report.nodeid)
    _seconds[module] = _seconds.get(module, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Note each module's seconds for the next run's order (in the one process that saw every
    test: the run's own, or pytest-xdist's controller, not a worker)."""
    cache = _cache(session.config)
    if cache is None or not _seconds or hasattr(session.config, "workerinput"):
        return
    known = cache.get(SECONDS_KEY, {})
    cache.set(SECONDS_KEY, known | {name: round(s, 1) for name, s in _seconds.items()})


def on_server(value: object, server: str) -> object:
    """A fixture parameter for a portal run by `server` ("werkzeug" in a thread, or "gunicorn"),
    which puts the tests it reaches in that server's tier."""
    tier = {"werkzeug": pytest.mark.site, "gunicorn": pytest.mark.gunicorn}[server]
    return pytest.param(value, marks=tier)
