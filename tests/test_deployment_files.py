"""docker-compose.yml and the Dockerfile can't be run here (no Docker engine), so they are read."""

import re
import shlex
import tomllib

import pytest
import yaml

from portal.config import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
SCRIPTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def shell_commands(command):
    """The programs a compose `command` runs, through `sh -c` chains."""
    if command[:2] == ["sh", "-c"]:
        programs = []
        for part in command[2].split("&&"):
            words = shlex.split(part)
            programs.append(words[1] if words[0] == "exec" else words[0])
        return programs
    return [command[0]]


def test_compose_has_mariadb_and_the_portal():
    assert sorted(COMPOSE["services"]) == ["mariadb", "portal"]


def test_mariadb_has_a_health_check_and_a_volume():
    mariadb = COMPOSE["services"]["mariadb"]
    assert mariadb["healthcheck"]["test"][0] == "CMD"
    assert mariadb["volumes"] == ["mariadb-data:/var/lib/mysql"]
    assert "mariadb-data" in COMPOSE["volumes"]


def test_the_portal_waits_for_a_healthy_mariadb():
    assert COMPOSE["services"]["portal"]["depends_on"] == {
        "mariadb": {"condition": "service_healthy"}
    }


def test_the_portal_publishes_the_port_gunicorn_binds():
    assert COMPOSE["services"]["portal"]["ports"] == ["8000:8000"]
    assert "PORTAL_BIND=0.0.0.0:8000" in DOCKERFILE


def test_the_portal_uses_mariadb_with_utf8mb4_in_production():
    environment = COMPOSE["services"]["portal"]["environment"]
    assert environment["PORTAL_ENV"] == "production"
    assert environment["DATABASE_URL"].startswith("mysql+pymysql://portal:")
    assert environment["DATABASE_URL"].endswith("@mariadb:3306/portal?charset=utf8mb4")


@pytest.mark.parametrize("program", shell_commands(COMPOSE["services"]["portal"]["command"]))
def test_every_program_the_portal_service_runs_exists(program):
    assert program in SCRIPTS or program == "gunicorn"
    if program == "gunicorn":
        assert (PROJECT_ROOT / "gunicorn.conf.py").is_file()


def test_migrations_run_before_gunicorn_starts():
    command = COMPOSE["services"]["portal"]["command"][2]
    assert command.index("portal db upgrade") < command.index("gunicorn")


def test_the_image_runs_as_a_non_root_user():
    assert "USER portal" in DOCKERFILE
    assert DOCKERFILE.index("USER portal") < DOCKERFILE.index("CMD ")


def test_every_file_the_image_copies_exists():
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT_ROOT / source).exists(), source


def test_the_readme_documents_every_setting():
    sources = (PROJECT_ROOT / "portal/config.py").read_text()
    sources += (PROJECT_ROOT / "gunicorn.conf.py").read_text()
    names = set(re.findall(r'env(?:iron)?\.get\("([A-Z0-9_]+)"', sources))
    names |= set(re.findall(r'_env_\w+\(env, "([A-Z0-9_]+)"', sources))
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert names, "no settings found"
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
