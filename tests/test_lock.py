"""The lock: every dependency pyproject.toml declares is pinned with hashes, and `make run`,
`make test` and the Docker image install from it.

Read offline from the files themselves, so a dependency added without `make lock` fails here,
before an install anywhere could resolve it differently.
"""

import re
import shlex
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.live import PROJECT_ROOT
from tests.test_deployment_files import copies, dockerfile_stages

pytestmark = pytest.mark.unit

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
PORTAL_LOCK = PROJECT_ROOT / "requirements" / "portal.txt"
TEST_LOCK = PROJECT_ROOT / "requirements" / "test.txt"
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()
REFRESH = "run `make lock` and commit requirements/"


def pins(lock):
    """{name: (version, [hashes])} of a pip-compile lock."""
    text = re.sub(r"\\\n\s*", " ", lock.read_text())
    found = {}
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            requirement, *options = line.split(" --hash=")
            name, version = requirement.strip().split("==")
            found[canonicalize_name(name)] = (version, [o.strip() for o in options])
    return found


def declared(*extras):
    """The requirements pyproject.toml declares for the portal and the given extras."""
    lines = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        lines += PYPROJECT["project"]["optional-dependencies"][extra]
    lines += PYPROJECT["build-system"]["requires"]
    return [Requirement(line) for line in lines]


def unlocked(requirements, locked):
    """Requirements the lock has no fitting pin for, as `requirement (pinned: version)`."""
    missing = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = locked.get(canonicalize_name(requirement.name), (None,))[0]
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement} (pinned: {version})")
    return missing


LOCKS = [
    pytest.param(PORTAL_LOCK, ("samples",), id="portal"),
    pytest.param(TEST_LOCK, ("samples", "test"), id="test"),
]


@pytest.mark.parametrize(("lock", "extras"), LOCKS)
def test_the_lock_pins_every_dependency_pyproject_declares(lock, extras):
    missing = unlocked(declared(*extras), pins(lock))
    assert missing == [], f"{lock.name} lacks {missing}: {REFRESH}"


@pytest.mark.parametrize(("lock", "extras"), LOCKS)
def test_every_pin_of_the_lock_has_a_sha256_hash(lock, extras):
    unhashed = [
        name
        for name, (_, hashes) in pins(lock).items()
        if not hashes or not all(h.startswith("sha256:") for h in hashes)
    ]
    assert unhashed == []


def test_a_requirement_the_lock_lacks_is_reported_with_the_refresh_command():
    assert unlocked([Requirement("no-such-package>=1")], pins(PORTAL_LOCK)) == [
        "no-such-package>=1 (pinned: None)"
    ]
    assert unlocked([Requirement("flask>=99")], pins(PORTAL_LOCK)) == [
        f"flask>=99 (pinned: {pins(PORTAL_LOCK)['flask'][0]})"
    ]


def test_the_test_lock_pins_what_both_share_as_the_portal_lock_does():
    portal, test = pins(PORTAL_LOCK), pins(TEST_LOCK)
    differing = {name: (v, test[name][0]) for name, (v, _) in portal.items() if name in test}
    assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}
    assert set(portal) <= set(test)


def test_both_locks_name_make_lock_as_the_command_that_made_them():
    for lock in (PORTAL_LOCK, TEST_LOCK):
        assert "#    make lock\n" in lock.read_text()


def test_the_lock_names_no_index_or_local_path():
    for lock in (PORTAL_LOCK, TEST_LOCK):
        text = lock.read_text()
        assert not re.search(r"^--|^-[cefir] |file://|https?://", text, re.M), lock.name


def make_rule(target):
    """(prerequisites, recipe lines) of a Makefile rule."""
    match = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", MAKEFILE, re.M)
    assert match, target
    recipe = re.sub(r"\\\n\t*", " ", match.group(2))
    return match.group(1).split("|")[0].split(), [line.strip() for line in recipe.splitlines()]


@pytest.mark.parametrize(
    ("stamp", "lock"),
    [
        ("$(VENV)/.run-deps", "requirements/portal.txt"),
        ("$(VENV)/.test-deps", "requirements/test.txt"),
    ],
)
def test_make_installs_from_the_lock_then_the_project_without_dependencies(stamp, lock):
    prerequisites, recipe = make_rule(stamp)
    assert prerequisites == [lock, "pyproject.toml"]
    assert recipe == [
        f"$(PIP) --require-hashes -r {lock}",
        "$(PIP) --no-deps --no-build-isolation -e .",
        "touch $@",
    ]


@pytest.mark.parametrize(("target", "stamp"), [("run", ".run-deps"), ("test", ".test-deps")])
def test_the_quick_start_targets_depend_on_the_lock_stamps(target, stamp):
    assert make_rule(target)[0] == [f"$(VENV)/{stamp}"]


def test_make_lock_writes_every_lock_with_hashes():
    _, recipe = make_rule("lock")
    outputs = [shlex.split(line)[shlex.split(line).index("-o") + 1] for line in recipe]
    assert outputs == [
        "requirements/portal.txt",
        "requirements/test.txt",
        "requirements/wapiti.txt",
    ]
    assert "--generate-hashes" in MAKEFILE
    assert "--constraint requirements/portal.txt" in recipe[1]


def build_stage():
    return dockerfile_stages()[0]


def test_the_image_copies_only_the_lock_before_installing_the_dependencies():
    stage = build_stage()
    first_install = next(i for i, (k, a) in enumerate(stage) if k == "RUN" and "pip" in a)
    copied_before = [c for c in copies(stage[:first_install])]
    assert copied_before == [(["requirements/portal.txt"], "./requirements/", None)]
    assert stage[first_install] == (
        "RUN",
        "/opt/venv/bin/pip install --require-hashes -r requirements/portal.txt",
    )


def test_the_image_installs_the_portal_without_dependencies_after_copying_its_code():
    stage = build_stage()
    installs = [a for k, a in stage if k == "RUN" and "pip" in a]
    assert installs[1:] == ["/opt/venv/bin/pip install --no-deps --no-build-isolation ."]
    last_copy = max(i for i, (k, _) in enumerate(stage) if k == "COPY")
    assert stage.index(("RUN", installs[1])) > last_copy


def test_the_image_builds_on_the_python_the_lock_was_made_with():
    [default] = re.findall(
        r"^ARG PYTHON_VERSION=(\S+)$", (PROJECT_ROOT / "Dockerfile").read_text(), re.M
    )
    made_with = re.search(r"pip-compile with Python (\S+)", PORTAL_LOCK.read_text()).group(1)
    assert default == made_with
