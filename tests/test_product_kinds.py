"""What product.toml says about how a product is served: in-process, a command, an upstream."""

import pytest

from auth.identity import read_product_info
from auth.product_kinds import DEFAULT_TIMEOUT, Liveness, ProductKind
from auth.tiers import Tier
from portal.products.discovery import Status, discover

pytestmark = pytest.mark.unit


def info(tmp_path, metadata):
    folder = tmp_path / "dash"
    folder.mkdir(exist_ok=True)
    (folder / "product.toml").write_text(metadata)
    return read_product_info(Tier.EA, folder)


def error_for(tmp_path, metadata):
    with pytest.raises(ValueError) as raised:
        info(tmp_path, metadata)
    return str(raised.value)


def test_without_command_or_upstream_a_product_is_an_in_process_wsgi_app(tmp_path):
    plain = info(tmp_path, 'title = "Dash"\n')
    assert (plain.kind, plain.command, plain.upstream) == (ProductKind.WSGI, "", "")


def test_a_command_makes_a_process_product_with_default_health_and_timeout(tmp_path):
    process = info(tmp_path, 'command = "python -m http.server {port}"\n')
    assert (process.kind, process.command, process.health, process.timeout) == (
        ProductKind.PROCESS,
        "python -m http.server {port}",
        "/",
        DEFAULT_TIMEOUT,
    )


def test_an_upstream_makes_an_upstream_product_without_its_trailing_slash(tmp_path):
    upstream = info(tmp_path, 'upstream = "http://127.0.0.1:8050/base/"\n')
    assert (upstream.kind, upstream.upstream) == (
        ProductKind.UPSTREAM,
        "http://127.0.0.1:8050/base",
    )


def test_health_and_timeout_are_read_for_an_upstream(tmp_path):
    upstream = info(
        tmp_path, 'upstream = "https://dash.internal"\nhealth = "/healthz?deep=1"\ntimeout = 5\n'
    )
    assert (upstream.health, upstream.timeout) == ("/healthz?deep=1", 5.0)


def test_an_upstream_may_be_a_unix_socket(tmp_path):
    upstream = info(tmp_path, 'upstream = "unix:/run/dash/web.sock"\n')
    assert upstream.upstream == "unix:/run/dash/web.sock"


def test_a_command_may_listen_on_a_socket_and_know_its_prefix(tmp_path):
    process = info(tmp_path, 'command = "gunicorn --bind unix:{socket} -e PREFIX={prefix} app"\n')
    assert process.kind is ProductKind.PROCESS


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            'command = "serve {port}"\nupstream = "http://127.0.0.1:1"\n',
            "command and upstream exclude each other: the portal either runs the server "
            "(command) or fronts one that runs elsewhere (upstream)",
        ),
        ("command = 3\n", "command must be a string"),
        ("upstream = true\n", "upstream must be a string"),
        (
            'command = "serve --port 8000"\n',
            "command must contain exactly one of {port} and {socket}: where the portal tells "
            "it to listen",
        ),
        (
            'command = "serve {port} {socket}"\n',
            "command must contain exactly one of {port} and {socket}: where the portal tells "
            "it to listen",
        ),
        (
            "command = \"sh -c 'serve {port} ${HOME}'\"\n",
            "command has unknown placeholders {HOME}; it may use {port} or {socket}, and "
            "{prefix} (write {{ and }} for literal braces)",
        ),
        (
            'command = "serve {port"\n',
            "command 'serve {port' does not parse: expected '}' before end of string",
        ),
        (
            'command = "serve {port} \'open"\n',
            'command "serve {port} \'open" does not parse: No closing quotation',
        ),
        (
            'upstream = "ftp://files.internal"\n',
            "upstream 'ftp://files.internal' must be an http:// or https:// URL with a host, "
            "or unix:/absolute/path.sock",
        ),
        (
            'upstream = "http://"\n',
            "upstream 'http://' must be an http:// or https:// URL with a host, "
            "or unix:/absolute/path.sock",
        ),
        (
            'upstream = "127.0.0.1:8050"\n',
            "upstream '127.0.0.1:8050' must be an http:// or https:// URL with a host, "
            "or unix:/absolute/path.sock",
        ),
        (
            'upstream = "http://127.0.0.1:99999"\n',
            "upstream 'http://127.0.0.1:99999' is not a URL: Port out of range 0-65535",
        ),
        (
            'upstream = "http://127.0.0.1:0"\n',
            "upstream 'http://127.0.0.1:0': port 0 is not a port a server listens on",
        ),
        (
            'upstream = "http://user:pw@127.0.0.1:8050"\n',
            "upstream must not hold credentials; product.toml is not a secret",
        ),
        (
            'upstream = "http://127.0.0.1:8050/?a=1"\n',
            "upstream 'http://127.0.0.1:8050/?a=1' must not have a query or a fragment",
        ),
        (
            'upstream = "unix:run/web.sock"\n',
            "upstream 'unix:run/web.sock': a unix socket is written unix:/absolute/path.sock",
        ),
        (
            'upstream = "http://127.0.0.1:1"\nhealth = "healthz"\n',
            "health must be a path on the product's server starting with /, got 'healthz'",
        ),
        (
            'upstream = "http://127.0.0.1:1"\nhealth = "//elsewhere/healthz"\n',
            "health must be a path on the product's server starting with /, "
            "got '//elsewhere/healthz'",
        ),
        (
            'upstream = "http://127.0.0.1:1"\nhealth = "/health z"\n',
            "health must be a path on the product's server starting with /, got '/health z'",
        ),
        (
            'upstream = "http://127.0.0.1:1"\nhealth = 200\n',
            "health must be a string: a path such as /healthz",
        ),
        (
            'upstream = "http://127.0.0.1:1"\ntimeout = "30"\n',
            "timeout must be a number of seconds",
        ),
        (
            'upstream = "http://127.0.0.1:1"\ntimeout = true\n',
            "timeout must be a number of seconds",
        ),
        (
            'upstream = "http://127.0.0.1:1"\ntimeout = 0\n',
            "timeout must be between 0.1 and 3600 seconds, got 0",
        ),
        (
            'upstream = "http://127.0.0.1:1"\ntimeout = 86400\n',
            "timeout must be between 0.1 and 3600 seconds, got 86400",
        ),
        (
            'upstream = "http://127.0.0.1:1"\ntimeout = nan\n',
            "timeout must be between 0.1 and 3600 seconds, got nan",
        ),
        ('health = "/healthz"\n', "health applies only to a product with a command or an upstream"),
        ("timeout = 5\n", "timeout applies only to a product with a command or an upstream"),
    ],
)
def test_invalid_serving_fields_are_refused_with_what_is_wrong(tmp_path, metadata, message):
    assert error_for(tmp_path, metadata) == message


def test_an_upstream_folder_needs_no_python_package_and_is_not_imported(tmp_path):
    folder = tmp_path / "ea" / "dash"
    folder.mkdir(parents=True)
    (folder / "product.toml").write_text('upstream = "http://127.0.0.1:8050"\n')
    dash = discover(tmp_path).products[0]
    assert (dash.status, dash.info.kind, dash.app) == (Status.LOADED, ProductKind.UPSTREAM, None)


def test_a_command_folder_with_python_code_is_not_imported_into_the_portal(tmp_path):
    folder = tmp_path / "ea" / "dash"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("raise SystemExit('must not be imported')\n")
    (folder / "product.toml").write_text('command = "python -m dash {port}"\n')
    dash = discover(tmp_path).products[0]
    assert (dash.status, dash.info.kind, dash.app) == (Status.LOADED, ProductKind.PROCESS, None)


def test_a_broken_serving_field_marks_the_product_broken(tmp_path):
    folder = tmp_path / "ea" / "dash"
    folder.mkdir(parents=True)
    (folder / "product.toml").write_text('upstream = "ftp://x"\n')
    dash = discover(tmp_path).products[0]
    assert (dash.status, dash.error) == (
        Status.BROKEN,
        "product.toml: upstream 'ftp://x' must be an http:// or https:// URL with a host, "
        "or unix:/absolute/path.sock",
    )


def test_a_command_product_is_watched_with_the_default_liveness(tmp_path):
    process = info(tmp_path, 'command = "python -m http.server {port}"\n')
    assert process.liveness == Liveness(interval=5.0, timeout=3.0, failures=3)
    assert process.liveness.bound == 24.0


def test_liveness_is_read_from_its_table(tmp_path):
    process = info(
        tmp_path,
        'command = "python -m http.server {port}"\n'
        "[liveness]\ninterval = 2\ntimeout = 0.5\nfailures = 4\n",
    )
    assert process.liveness == Liveness(interval=2.0, timeout=0.5, failures=4)
    assert process.liveness.describe() == "every 2 s, 0.5 s each, 4 to fail"


COMMAND = 'command = "python -m http.server {port}"\n'


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            COMMAND + "liveness = 5\n",
            "liveness must be a table: [liveness] with interval, timeout, failures",
        ),
        (
            COMMAND + "[liveness]\nperiod = 5\n",
            "liveness has unknown keys period; it takes interval, timeout and failures",
        ),
        (COMMAND + '[liveness]\ninterval = "5"\n', "liveness.interval must be a number of seconds"),
        (COMMAND + "[liveness]\ntimeout = true\n", "liveness.timeout must be a number of seconds"),
        (
            COMMAND + "[liveness]\ninterval = 0\n",
            "liveness.interval must be between 0.1 and 3600 seconds, got 0",
        ),
        (
            COMMAND + "[liveness]\ntimeout = inf\n",
            "liveness.timeout must be between 0.1 and 3600 seconds, got inf",
        ),
        (
            COMMAND + "[liveness]\nfailures = 0\n",
            "liveness.failures must be between 1 and 100, got 0",
        ),
        (
            COMMAND + "[liveness]\nfailures = 2.5\n",
            "liveness.failures must be a whole number of checks",
        ),
        (
            'upstream = "http://127.0.0.1:1"\n[liveness]\nfailures = 2\n',
            "liveness applies only to a product with a command: the portal restarts only "
            "processes it runs",
        ),
    ],
)
def test_invalid_liveness_is_refused_with_what_is_wrong(tmp_path, metadata, message):
    assert error_for(tmp_path, metadata) == message
