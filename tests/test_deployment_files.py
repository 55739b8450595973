"""The deployment files, read: Docker can't run here (no engine), so nothing here builds or starts.

docker-compose.yml (services, start-up order, health checks, ports, networks), deploy/nginx.conf
(upstreams, forwarded headers, websockets), the Dockerfile (what it copies, who it runs as, what
it starts) and .env.example (every setting) are checked against the project: the commands they run
must exist, the names must match, and the addresses must be ones gunicorn accepts.
"""

import ast
import fnmatch
import importlib.metadata
import ipaddress
import json
import re
import shlex
import sys
import tomllib
from pathlib import PurePosixPath

import click
import pytest
import yaml
from gunicorn.config import Config as GunicornConfig
from gunicorn.config import validate_string_to_addr_list

from auth.product_paths import parse_blocks
from portal.cli import main as portal_cli
from portal.config import PROJECT_ROOT, Settings

pytestmark = pytest.mark.unit

COMPOSE_TEXT = (PROJECT_ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
NGINX = (PROJECT_ROOT / "deploy/nginx.conf").read_text()
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text()
DOCKERIGNORE = (PROJECT_ROOT / ".dockerignore").read_text().split("\n")
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())

REPLICAS = ["portal-1", "portal-2"]
# Services that run the project's image (built from the Dockerfile).
PROJECT_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)
# Read by docker-compose.yml itself, not by the portal.
COMPOSE_SETTINGS = {"MARIADB_PASSWORD"}


# --- helpers -------------------------------------------------------------------------------------


def settings_read_by_the_portal():
    """Every environment variable the portal reads: its settings model's."""
    return {info.alias for info in Settings.model_fields.values()}


def env_example_entries():
    """{name: (value, active)} from .env.example; `# NAME=value` lines are listed, inactive."""
    entries = {}
    for line in ENV_EXAMPLE.splitlines():
        found = re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if found:
            commented, name, value = found.groups()
            assert name not in entries, f"{name} is listed twice"
            entries[name] = (value, commented is None)
    return entries


def dockerfile_stages():
    """[[(INSTRUCTION, arguments), ...] per stage], continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages = []
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def final_stage():
    return dockerfile_stages()[-1]


def copies(stage):
    """[(sources, destination, from_stage)] of a stage's COPY instructions."""
    found = []
    for keyword, arguments in stage:
        if keyword == "COPY":
            words = shlex.split(arguments)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            found.append((paths[:-1], paths[-1], origin))
    return found


def image_env():
    """The final stage's ENV values."""
    values = {}
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                values[name] = value
    return values


def image_workdir():
    return [arguments for keyword, arguments in final_stage() if keyword == "WORKDIR"][-1]


def nginx_blocks(header, text=NGINX):
    """The bodies of every `header { ... }` block in `text` (blocks nest: braces are counted)."""
    bodies = []
    for found in re.finditer(re.escape(header) + r" \{", text):
        depth, position = 1, found.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        bodies.append(text[found.end() : position - 1])
    return bodies


def nginx_block(header, text=NGINX):
    """The body of the one `header { ... }` block in `text`."""
    [body] = nginx_blocks(header, text)
    return body


def tls_server():
    """The server block that listens on 443, where requests are proxied."""
    [server] = [body for body in nginx_blocks("server") if "listen 443 " in body]
    return server


def gunicorn_setting(name):
    """A literal setting of gunicorn.conf.py, read without running the file."""
    tree = ast.parse((PROJECT_ROOT / "gunicorn.conf.py").read_text())
    [value] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]
    ]
    return ast.literal_eval(value)


def nginx_directives(block, name):
    return [value.strip() for value in re.findall(rf"^\s*{name}\s+([^;]+);", block, re.M)]


def distribution_name(requirement):
    return re.split(r"[<>=!~\[ ;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def installed_by_the_image():
    """The distributions the image installs: every pin of the lock it copies."""
    lock = (PROJECT_ROOT / "requirements" / "portal.txt").read_text()
    return {
        distribution_name(line)
        for line in lock.splitlines()
        if line and not line.startswith((" ", "#"))
    }


def pytest_plugins_shipped():
    """Modules only pytest imports (through their `pytest11` entry point), never the image."""
    plugins = PYPROJECT["project"].get("entry-points", {}).get("pytest11", {}).values()
    return {PROJECT_ROOT / (module.replace(".", "/") + ".py") for module in plugins}


def third_party_imports():
    """{top-level module: files} imported by the packages and products the image holds (not
    their tests)."""
    packages = ("portal", "kit", "directory", "auth", "db", "devidp", "migrations", "apps")
    first_party = {*packages, "tests"}
    found = {}
    for package in packages:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            if path.name.startswith("test_") or path in pytest_plugins_shipped():
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in first_party:
                        found.setdefault(top, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def run_portal_command(words):
    """The click command `portal <words>` names, after its arguments parse; fails if unknown."""
    command, context, rest = portal_cli, click.Context(portal_cli, info_name="portal"), list(words)
    while isinstance(command, click.Group):
        assert rest, f"`portal {' '.join(words)}` names a group, not a command"
        name = rest.pop(0)
        found = command.get_command(context, name)
        assert found is not None, f"`portal` has no command {name!r}"
        command = found
        context = click.Context(command, info_name=name, parent=context)
    command.make_context(command.name, rest, parent=context.parent)
    return command


def gunicorn_options(arguments):
    """gunicorn's own command-line parser applied to `arguments` (exits on an unknown option)."""
    return GunicornConfig().parser().parse_args(arguments)


def service_commands():
    """(service, argv) for every service built from the project, and the image's default."""
    commands = [(name, SERVICES[name]["command"]) for name in PROJECT_SERVICES]
    cmd = [arguments for keyword, arguments in final_stage() if keyword == "CMD"][-1]
    return [*commands, ("Dockerfile CMD", json.loads(cmd))]


# --- docker-compose.yml --------------------------------------------------------------------------


def test_compose_runs_the_database_redis_migrations_two_replicas_and_nginx():
    assert sorted(SERVICES) == ["mariadb", "migrate", "nginx", "portal-1", "portal-2", "redis"]


def test_the_services_built_from_the_project_are_the_migration_and_the_replicas():
    assert PROJECT_SERVICES == ["migrate", "portal-1", "portal-2"]


def test_the_replicas_remove_the_sample_monoliths_reports_and_the_setting_parses():
    for name in ("portal-1", "portal-2"):
        setting = SERVICES[name]["environment"]["PORTAL_BLOCK"]
        assert [block.text for block in parse_blocks(setting)] == ["stable/seistech/svc_report/*"]
    assert (PROJECT_ROOT / "apps" / "stable" / "seistech" / "product.toml").is_file()


def test_mariadb_has_a_health_check_and_a_volume():
    mariadb = SERVICES["mariadb"]
    assert mariadb["healthcheck"]["test"] == [
        "CMD",
        "healthcheck.sh",
        "--connect",
        "--innodb_initialized",
    ]
    assert mariadb["volumes"] == ["mariadb-data:/var/lib/mysql"]
    assert COMPOSE["volumes"] == {"mariadb-data": None}


def test_mariadb_stores_utf8mb4():
    assert SERVICES["mariadb"]["command"] == [
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
    ]


def test_redis_has_a_health_check():
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_migrations_run_once_in_a_one_shot_service_after_mariadb_is_healthy():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["portal", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"mariadb": {"condition": "service_healthy"}}


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_replica_starts_after_the_migration_succeeded_and_its_backends_are_healthy(replica):
    assert SERVICES[replica]["depends_on"] == {
        "mariadb": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_replica_runs_gunicorn_with_the_projects_settings_file(replica):
    assert SERVICES[replica]["command"] == ["gunicorn", "-c", "gunicorn.conf.py"]


@pytest.mark.parametrize(
    ("service", "argv"), service_commands(), ids=[name for name, _ in service_commands()]
)
def test_every_command_a_service_runs_exists(service, argv):
    program, *arguments = argv
    assert program in {"portal", "gunicorn"}, f"{service} runs {program!r}"
    if program == "portal":
        assert program in PYPROJECT["project"]["scripts"]
        assert isinstance(run_portal_command(arguments), click.Command)
    else:
        assert any(d.startswith("gunicorn") for d in PYPROJECT["project"]["dependencies"])
        options = gunicorn_options(arguments)
        assert (PROJECT_ROOT / options.config).is_file()


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_a_project_service_reads_its_settings_from_dot_env(service):
    assert SERVICES[service]["env_file"] == ".env"


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_a_project_service_uses_mariadb_with_utf8mb4_and_redis_in_production(service):
    environment = SERVICES[service]["environment"]
    assert environment["PORTAL_ENV"] == "production"
    assert environment["DATABASE_URL"] == (
        "mysql+pymysql://portal:${MARIADB_PASSWORD:?set MARIADB_PASSWORD in .env}"
        "@mariadb:3306/portal?charset=utf8mb4"
    )
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_replica_trusts_exactly_one_proxy(replica):
    assert SERVICES[replica]["environment"]["PORTAL_TRUSTED_PROXIES"] == "1"


@pytest.mark.parametrize("replica", REPLICAS)
def test_gunicorn_trusts_forwarded_headers_from_the_front_network_only(replica):
    allowed = SERVICES[replica]["environment"]["FORWARDED_ALLOW_IPS"]
    [subnet] = [entry["subnet"] for entry in COMPOSE["networks"]["front"]["ipam"]["config"]]
    assert validate_string_to_addr_list(allowed) == [subnet]
    assert ipaddress.ip_network(subnet).is_private


def test_nginx_is_the_only_client_on_the_front_network():
    on_front = sorted(name for name, s in SERVICES.items() if "front" in s.get("networks", []))
    assert on_front == ["nginx", *REPLICAS]
    assert SERVICES["nginx"]["networks"] == ["front"]


def test_the_databases_and_the_migration_are_out_of_nginxs_reach():
    networks = {name: service["networks"] for name, service in SERVICES.items()}
    assert networks == {
        "mariadb": ["back"],
        "redis": ["back"],
        "migrate": ["back"],
        "portal-1": ["front", "back"],
        "portal-2": ["front", "back"],
        "nginx": ["front"],
    }


def test_no_service_has_a_fixed_address():
    assert "ipv4_address" not in COMPOSE_TEXT


def test_only_nginx_publishes_ports():
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {"nginx": ["80:80", "443:443"]}


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_replica_binds_gunicorn_where_the_image_exposes_it(replica):
    assert SERVICES[replica]["environment"]["PORTAL_BIND"] == image_env()["PORTAL_BIND"]
    assert ("EXPOSE", "8000") in final_stage()


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_replica_keeps_the_images_health_check(replica):
    assert "healthcheck" not in SERVICES[replica]
    assert [keyword for keyword, _ in final_stage()].count("HEALTHCHECK") == 1


def test_nginx_starts_once_both_replicas_are_healthy():
    assert SERVICES["nginx"]["depends_on"] == {
        replica: {"condition": "service_healthy"} for replica in REPLICAS
    }


def test_nginx_mounts_its_configuration_and_certificates_from_deploy():
    assert SERVICES["nginx"]["volumes"] == [
        "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro",
        "./deploy/tls:/etc/nginx/tls:ro",
        "./deploy/acme:/var/www/acme:ro",
    ]
    for volume in SERVICES["nginx"]["volumes"]:
        assert (PROJECT_ROOT / volume.split(":")[0]).exists(), volume


def test_nginx_health_check_asks_a_location_nginx_answers_itself():
    test = SERVICES["nginx"]["healthcheck"]["test"]
    assert test == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/nginx-healthz"]
    assert (
        "location = /nginx-healthz {\n            access_log off;\n            return 200" in NGINX
    )


def test_every_variable_compose_interpolates_is_in_env_example():
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    assert interpolated == COMPOSE_SETTINGS | {"PORTAL_HOST_DOMAIN"}
    assert interpolated <= set(env_example_entries())
    assert all(env_example_entries()[name][1] for name in interpolated)


# --- deploy/nginx.conf ---------------------------------------------------------------------------


def test_nginx_upstream_is_the_replicas_on_gunicorns_port():
    servers = [
        value.split()[0] for value in nginx_directives(nginx_block("upstream portal"), "server")
    ]
    expected = [f"{r}:{SERVICES[r]['environment']['PORTAL_BIND'].split(':')[1]}" for r in REPLICAS]
    assert servers == expected


def test_nginx_proxies_every_request_to_the_upstream():
    assert re.findall(r"proxy_pass\s+([^;]+);", NGINX) == ["http://portal", "http://portal"]


def test_nginx_listens_on_the_ports_compose_publishes():
    listened = {value.split()[0] for value in nginx_directives(NGINX, "listen")}
    published = {port.split(":")[1] for port in SERVICES["nginx"]["ports"]}
    assert {p.rsplit(":", 1)[-1] for p in listened} == published


def test_nginx_sends_the_forwarded_headers_proxyfix_reads():
    headers = dict(value.split(None, 1) for value in nginx_directives(NGINX, "proxy_set_header"))
    assert headers["Host"] == "$host"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-Host"] == "$host"
    assert headers["X-Forwarded-Port"] == "$server_port"


def test_nginx_replaces_any_request_id_a_client_sent():
    assert "proxy_set_header X-Request-ID $request_id;" in NGINX


def test_nginx_passes_websocket_upgrades_on():
    headers = dict(value.split(None, 1) for value in nginx_directives(NGINX, "proxy_set_header"))
    assert headers["Upgrade"] == "$http_upgrade"
    assert headers["Connection"] == "$connection_upgrade"
    assert nginx_directives(NGINX, "proxy_http_version") == ["1.1"]
    mapping = nginx_block("map $http_upgrade $connection_upgrade")
    assert nginx_directives(mapping, "default") == ["upgrade"]


def test_nginx_keeps_websockets_open_for_an_hour_and_plain_requests_for_a_minute():
    websocket = nginx_block("location @websocket", tls_server())
    assert nginx_directives(websocket, "proxy_read_timeout") == ["1h"]
    plain = nginx_block("location /", tls_server())
    assert nginx_directives(plain, "proxy_read_timeout") == ["60s"]
    assert 'if ($http_upgrade ~* "^websocket$") {\n                return 418;' in plain
    assert nginx_directives(plain, "error_page") == ["418 = @websocket"]


def test_nginx_limits_request_bodies():
    assert nginx_directives(NGINX, "client_max_body_size") == ["25m"]


def test_nginx_gives_slow_clients_deadlines_and_resets_them():
    http = nginx_block("http")
    deadlines = {
        name: nginx_directives(http, name)
        for name in ("client_header_timeout", "client_body_timeout", "send_timeout")
    }
    assert deadlines == {
        "client_header_timeout": ["10s"],
        "client_body_timeout": ["30s"],
        "send_timeout": ["30s"],
    }
    assert nginx_directives(http, "keepalive_timeout") == ["30s", "4s"]  # clients, then upstream
    assert nginx_directives(http, "reset_timedout_connection") == ["on"]


def test_nginx_lets_idle_replica_connections_go_before_gunicorn_closes_them():
    [upstream_idle] = nginx_directives(nginx_block("upstream portal"), "keepalive_timeout")
    assert int(upstream_idle.removesuffix("s")) < gunicorn_setting("keepalive")


def test_nginx_takes_header_lines_as_long_as_gunicorn_does_and_60_kb_in_all():
    [buffers] = nginx_directives(NGINX, "large_client_header_buffers")
    count, size = buffers.split()
    line = int(size.removesuffix("k")) * 1024
    assert line == gunicorn_setting("limit_request_field_size") + len("\r\n")
    assert int(count) * line >= 60 * 1024


def test_nginx_buffers_whole_requests_and_responses():
    server = tls_server()
    assert nginx_directives(server, "proxy_request_buffering") == ["on"]
    assert nginx_directives(server, "proxy_buffering") == ["on", "off"]
    websocket = nginx_block("location @websocket", server)
    assert nginx_directives(websocket, "proxy_buffering") == ["off"]  # the only exception


def test_nginx_caps_connections_per_client_address_with_429():
    http = nginx_block("http")
    assert nginx_directives(http, "limit_conn_zone") == ["$binary_remote_addr zone=per_client:10m"]
    assert nginx_directives(http, "limit_conn_status") == ["429"]
    assert nginx_directives(tls_server(), "limit_conn") == ["per_client 512"]


def test_nginx_serves_tls_from_the_mounted_certificates():
    assert nginx_directives(NGINX, "ssl_certificate") == ["/etc/nginx/tls/fullchain.pem"]
    assert nginx_directives(NGINX, "ssl_certificate_key") == ["/etc/nginx/tls/privkey.pem"]


def test_nginx_does_not_expose_metrics():
    assert nginx_directives(nginx_block("location = /metrics", tls_server()), "return") == ["404"]


# --- Dockerfile ----------------------------------------------------------------------------------


def test_the_image_runs_as_a_non_root_user():
    keywords = [keyword for keyword, _ in final_stage()]
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users == ["portal"]
    assert keywords.index("USER") < keywords.index("CMD")
    assert "useradd --system --uid 10001 --user-group" in DOCKERFILE


def test_every_file_the_image_copies_exists_and_is_in_the_build_context():
    ignored = [line for line in DOCKERIGNORE if line and not line.startswith("#")]
    for stage in dockerfile_stages():
        for sources, _, origin in copies(stage):
            if origin is not None:
                continue
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_final_image_holds_only_the_virtualenv_the_products_and_the_entry_points():
    assert copies(final_stage()) == [
        (["/opt/venv"], "/opt/venv", "build"),
        (["apps"], "./apps", None),
        (["wsgi.py", "gunicorn.conf.py"], "./", None),
    ]


def test_the_build_stage_installs_every_package_pyproject_ships():
    packages = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {source for sources, _, _ in copies(dockerfile_stages()[0]) for source in sources}
    assert copied == packages | {"pyproject.toml", "README.md", "requirements/portal.txt"}
    assert ("RUN", "/opt/venv/bin/pip install --no-deps --no-build-isolation .") in (
        dockerfile_stages()[0]
    )


def test_the_image_installs_every_package_the_portal_imports():
    distributions = importlib.metadata.packages_distributions()
    installed = installed_by_the_image()
    missing = {
        module: sorted(files)
        for module, files in third_party_imports().items()
        if not {distribution_name(d) for d in distributions.get(module, [])} & installed
    }
    assert missing == {}


def test_the_apps_folder_setting_points_at_the_copied_products():
    destination = next(d for sources, d, _ in copies(final_stage()) if sources == ["apps"])
    assert image_env()["PORTAL_APPS_DIR"] == str(PurePosixPath(image_workdir()) / destination)


def test_the_image_runs_in_production_with_its_instance_folder_in_the_workdir():
    assert image_env()["PORTAL_ENV"] == "production"
    assert image_env()["PORTAL_INSTANCE_PATH"] == f"{image_workdir()}/instance"
    assert ("RUN", "mkdir instance && chown portal:portal instance") in final_stage()


def test_the_image_health_check_asks_healthz_on_gunicorns_port():
    healthcheck = next(
        arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"
    )
    port = image_env()["PORTAL_BIND"].rsplit(":", 1)[1]
    assert f"urlopen('http://127.0.0.1:{port}/healthz', timeout=2)" in healthcheck


def test_the_image_starts_gunicorn_without_migrating():
    cmd = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    assert [json.loads(c) for c in cmd] == [["gunicorn", "-c", "gunicorn.conf.py"]]
    assert "db upgrade" not in "".join(a for k, a in final_stage() if k in {"CMD", "ENTRYPOINT"})


def test_the_build_context_leaves_out_secrets_and_local_state():
    assert {".env", ".venv", ".git", "instance", "tests"} <= set(DOCKERIGNORE)


# --- .env.example --------------------------------------------------------------------------------


def test_env_example_lists_every_setting_the_portal_reads():
    names = settings_read_by_the_portal()
    assert sorted(names - set(env_example_entries())) == []


def test_env_example_lists_nothing_the_portal_does_not_read():
    names = settings_read_by_the_portal()
    assert sorted(set(env_example_entries()) - names - COMPOSE_SETTINGS) == []


def test_env_example_sets_the_required_settings_blank_so_a_forgotten_one_stops_the_start():
    entries = env_example_entries()
    required = [
        "SECRET_KEY",
        "PORTAL_IDENTITY_KEY",
        "PORTAL_BASE_URL",
        "MARIADB_PASSWORD",
        "AUTH0_DOMAIN",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
    ]
    assert {name: entries[name] for name in required} == {name: ("", True) for name in required}
    assert entries["PORTAL_ENV"] == ("production", True)


def test_env_example_holds_no_secret_values():
    secrets = {
        name: value
        for name, (value, _) in env_example_entries().items()
        if re.search(r"SECRET|PASSWORD|TOKEN(?!_TTL)|_KEY$", name)
    }
    assert secrets == {
        "SECRET_KEY": "",
        "PORTAL_IDENTITY_KEY": "",
        "MARIADB_PASSWORD": "",
        "OIDC_CLIENT_SECRET": "",
        "AUTH0_MANAGEMENT_CLIENT_SECRET": "",
        "PORTAL_WEBHOOK_SECRET": "",
        "PORTAL_METRICS_TOKEN": "",
    }


def test_env_example_leaves_gunicorns_numbers_commented_out():
    entries = env_example_entries()
    for name in ("PORTAL_BIND", "PORTAL_WORKERS", "PORTAL_THREADS", "FORWARDED_ALLOW_IPS"):
        assert entries[name][1] is False, name


@pytest.mark.parametrize("replica", REPLICAS)
def test_every_replica_serves_in_host_mode(replica):
    domain = SERVICES[replica]["environment"]["PORTAL_HOST_DOMAIN"]
    assert domain.startswith("${PORTAL_HOST_DOMAIN:?")


def test_the_env_example_turns_host_mode_on():
    assert env_example_entries()["PORTAL_HOST_DOMAIN"] == ("portal.example.org", True)


def test_nginx_passes_every_host_through_to_the_replicas():
    assert nginx_directives(tls_server(), "server_name") == ["_"]
    assert "proxy_set_header Host $host" in tls_server()
