"""The README's quick start, run as a newcomer runs it, and the Docker image's command line.

Both start from a fresh copy of the project, in a process that gets nothing from this test's
Python: no `sys.path`, no PYTHONPATH, no virtualenv on PATH, no portal settings. Then every
sample product must be loaded and every demo user must see what their tier opens, the admin
console included. (Docker itself has no engine here: the image's command runs from a layout
built the way the Dockerfile builds it.)
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
from pathlib import Path

import pytest
import requests

from auth.tiers import Tier
from portal.config import PROJECT_ROOT
from tests.support.processes import free_port
from tests.support.signin import sign_in

pytestmark = pytest.mark.e2e

README = (PROJECT_ROOT / "README.md").read_text()
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


def quick_start_commands() -> list[str]:
    """The commands of the README's quick start block: one runs the portal, one tests it."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"\n\n((?:    .+\n)+)", section).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines()]


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


def test_the_readme_quick_start_has_two_commands():
    assert quick_start_commands() == ["make run", "make test"]


@pytest.mark.timeout(2 * STARTUP_SECONDS)
def test_make_run_in_a_fresh_copy_serves_every_sample_product_and_their_tests_run(tmp_path):
    copy = fresh_copy(tmp_path / "portal")
    port = free_port()
    run_command = [*shlex.split(quick_start_commands()[0]), f"PORT={port}"]
    log = tmp_path / "make-run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            run_command,
            cwd=copy,
            env=newcomer_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(base_url, process, log)
        assert_every_product_serves_its_tiers(base_url, sample_products(copy))
        assert_every_process_sample_serves(base_url, process_samples(copy))
        assert "failed to load" not in log.read_text()
    finally:
        stop(process)
    product_test = subprocess.run(
        ["make", "test-app", "APP=stable/hello"],
        cwd=copy,
        env=newcomer_environment(),
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
    )
    assert product_test.returncode == 0, product_test.stdout[-4000:] + product_test.stderr[-4000:]
    assert " passed" in product_test.stdout


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
