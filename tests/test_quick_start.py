"""The quick start, the first-product tutorial and the product guides, run as a newcomer runs
them, and the Docker image's command line.

Both start from a fresh copy of the project, in a process that gets nothing from this test's
Python: no `sys.path`, no PYTHONPATH, no virtualenv on PATH, no portal settings. `make run`, the
quick start's first command, must then load every sample product and show every demo user what
their tier opens, the admin console included; the tutorial's and the guides' commands and files
are replayed, in their pages' order, against that running portal. (Docker itself has no engine
here: the image's command runs from a layout built the way the Dockerfile builds it.)
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from auth.tiers import Tier
from portal.config import PROJECT_ROOT
from tests.support.doc_pages import FIRST_PRODUCT, PRODUCT_GUIDES, QUICK_START, commands, steps
from tests.support.processes import free_port
from tests.support.signin import sign_in

pytestmark = pytest.mark.e2e

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
STARTUP_SECONDS = 600  # a fresh copy installs its virtualenv first


def project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()]


def fresh_copy(target: Path) -> Path:
    for name in project_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target / name)
    return target


def newcomer_environment(**extra: str) -> dict[str, str]:
    """The environment of someone who just cloned the project: no help from this test run."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(":") if p and p != venv_bin]
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "DEV_IDP_", "OIDC_", "AUTH0_", "PYTHON", "VIRTUAL_ENV"))
        and key not in {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "CI"}
    }
    return {**kept, "PATH": ":".join(path), **extra}


def sample_products(root: Path) -> set[str]:
    return {
        f"{tier.name}/{product.name}"
        for tier in (root / "apps").iterdir()
        if tier.is_dir() and tier.name in {t.value for t in Tier}
        for product in tier.iterdir()
        if (product / "__init__.py").is_file() or (product / "product.toml").is_file()
    }


def process_samples(root: Path) -> set[str]:
    """The samples the portal runs as processes of their own (`command` in product.toml)."""
    return {
        key
        for key in sample_products(root)
        if "command" in tomllib.loads(_metadata(root / "apps" / key))
    }


def _metadata(folder: Path) -> str:
    path = folder / "product.toml"
    return path.read_text() if path.is_file() else ""


def assert_every_process_sample_serves(base_url: str, samples: set[str]) -> None:
    """Each process sample answers through the portal once its process is up (503 before)."""
    http = sign_in(base_url, "admin")
    for key in sorted(samples):
        deadline = time.monotonic() + 120
        answer = http.get(f"{base_url}/{key}/", timeout=10)
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = http.get(f"{base_url}/{key}/", timeout=10)
        assert answer.status_code == 200, (key, answer.status_code, answer.text[-2000:])


def wait_until_served(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"not serving after {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def assert_every_product_serves_its_tiers(base_url: str, samples: set[str]) -> None:
    for tier in Tier:
        http = sign_in(base_url, tier.value)
        listed = http.get(base_url + "/api/me", timeout=10).json()["products"]
        opened = {key for key in samples if tier.opens(Tier.parse(key.split("/")[0]))}
        assert {f"{p['tier']}/{p['name']}": p["status"] for p in listed} == dict.fromkeys(
            opened, "loaded"
        ), tier
    console = sign_in(base_url, "admin").get(base_url + "/admin/manage/", timeout=10)
    assert console.status_code == 200
    assert '<h1 id="manage-heading">Users</h1>' in console.text


@dataclass
class Newcomer:
    """A fresh copy of the project serving through `make run`, as the quick start leaves it."""

    copy: Path
    base_url: str
    log: Path

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            shlex.split(command),
            cwd=self.copy,
            env=newcomer_environment(),
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
        )

    def replay(self, page: Path) -> None:
        """Save the page's files and run its commands in order, then wait until every product
        it saved a file of is served."""
        saved = set()
        for step in steps(page):
            if step.file:
                (self.copy / step.file).parent.mkdir(parents=True, exist_ok=True)
                (self.copy / step.file).write_text(step.text)
                saved.add(step.product)
                continue
            result = self.run(step.text)
            assert result.returncode == 0, (step.text, result.stdout[-4000:], result.stderr[-4000:])
        self.wait_until_listed({key for key in saved if (self.copy / "apps" / key).is_dir()})

    def wait_until_listed(self, keys: set[str]) -> None:
        http = sign_in(self.base_url, "admin")
        deadline = time.monotonic() + 60
        while True:
            listed = http.get(self.base_url + "/api/me", timeout=10).json()["products"]
            status = {f"{p['tier']}/{p['name']}": p["status"] for p in listed}
            if all(status.get(key) == "loaded" for key in keys) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert {key: status.get(key) for key in keys} == dict.fromkeys(keys, "loaded")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> Iterator[Newcomer]:
    """The quick start's first command, `make run`, in a fresh copy of the project."""
    folder = tmp_path_factory.mktemp("newcomer")
    copy = fresh_copy(folder / "portal")
    port = free_port()
    log = folder / "make-run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*shlex.split(commands(QUICK_START)[0]), f"PORT={port}"],
            cwd=copy,
            env=newcomer_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(base_url, process, log)
        yield Newcomer(copy, base_url, log)
    finally:
        stop(process)


def test_the_quick_start_has_two_commands():
    assert commands(QUICK_START) == ["make run", "make test"]


@pytest.mark.timeout(2 * STARTUP_SECONDS)
def test_make_run_in_a_fresh_copy_serves_every_sample_product_to_its_tiers(newcomer):
    assert_every_product_serves_its_tiers(newcomer.base_url, sample_products(newcomer.copy))
    assert_every_process_sample_serves(newcomer.base_url, process_samples(newcomer.copy))
    assert "failed to load" not in newcomer.log.read_text()


def test_the_first_product_tutorial_creates_tests_and_promotes_a_product():
    assert commands(FIRST_PRODUCT) == [
        ".venv/bin/portal new-app devel/widgets",
        ".venv/bin/portal apps",
        "make test-app APP=devel/widgets",
        ".venv/bin/portal promote devel/widgets ea",
        "make test-app APP=ea/widgets",
    ]


@pytest.mark.timeout(2 * STARTUP_SECONDS)
def test_the_first_product_tutorial_runs_against_the_running_portal(newcomer):
    newcomer.replay(FIRST_PRODUCT)

    early = sign_in(newcomer.base_url, "ea")
    moved = early.get(newcomer.base_url + "/devel/widgets/", allow_redirects=False, timeout=10)
    api = early.get(newcomer.base_url + "/ea/widgets/api/widgets", timeout=10)
    assert (moved.status_code, moved.headers["Location"]) == (308, "/ea/widgets/")
    assert api.json() == {"widgets": ["sprocket", "flange", "grommet"], "for": "ea@example.com"}
    assert not (newcomer.copy / "apps" / "devel" / "widgets").exists()


@pytest.mark.timeout(2 * STARTUP_SECONDS)
@pytest.mark.parametrize("page", PRODUCT_GUIDES, ids=lambda page: page.stem)
def test_a_product_guides_commands_and_products_run_against_the_running_portal(newcomer, page):
    newcomer.replay(page)


def dockerfile_instructions(stage: int) -> list[tuple[str, str]]:
    stages = re.split(r"^FROM .*$", DOCKERFILE, flags=re.M)[1:]
    joined = re.sub(r"\\\n\s*", " ", stages[stage])
    return [
        (line.split(None, 1)[0], line.split(None, 1)[1])
        for line in joined.splitlines()
        if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2
    ]


def image_environment() -> dict[str, str]:
    found = {}
    for instruction, value in dockerfile_instructions(1):
        if instruction == "ENV":
            found.update(dict(pair.split("=", 1) for pair in shlex.split(value)))
    return found


@pytest.mark.timeout(2 * STARTUP_SECONDS)
def test_the_images_command_serves_every_sample_product(tmp_path):
    """The image's layout: the lock, then a non-editable install in a virtualenv, the products
    and the gunicorn files copied beside it, the image's environment, its CMD, run from its
    WORKDIR."""
    copy = fresh_copy(tmp_path / "build")
    venv = tmp_path / "venv"
    env = newcomer_environment()
    subprocess.run(["python3", "-m", "venv", str(venv)], env=env, check=True)
    for install in [v for op, v in dockerfile_instructions(0) if op == "RUN" and "pip" in v]:
        install_args = shlex.split(install)[1:]  # the image's own pip command, without its path
        subprocess.run(
            [str(venv / "bin" / "pip"), *install_args, "--quiet"], cwd=copy, env=env, check=True
        )
    workdir = tmp_path / "srv"
    workdir.mkdir()
    for op, value in dockerfile_instructions(1):
        if op == "COPY" and not value.startswith("--from"):
            *sources, target = shlex.split(value)
            for source in sources:
                if (copy / source).is_dir():
                    shutil.copytree(copy / source, workdir / target)
                else:
                    shutil.copy2(copy / source, workdir / target / Path(source).name)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    image_env = image_environment()
    assert image_env["PORTAL_ENV"] == "production"
    env = {
        **env,
        **image_env,
        "PATH": f"{venv / 'bin'}:{env['PATH']}",
        # A production start needs a real https issuer, which can't be reached from here.
        "PORTAL_ENV": "development",
        "PORTAL_BIND": f"127.0.0.1:{port}",
        "PORTAL_BASE_URL": base_url,
        "PORTAL_INSTANCE_PATH": str(workdir / "instance"),
        "PORTAL_APPS_DIR": str(workdir / "apps"),
    }
    [command] = [value for op, value in dockerfile_instructions(1) if op == "CMD"]
    log = tmp_path / "image.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            json.loads(command),
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_served(base_url, process, log)
        assert_every_product_serves_its_tiers(base_url, sample_products(copy))
        assert_every_process_sample_serves(base_url, process_samples(copy))
    finally:
        stop(process)
