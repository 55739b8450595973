"""The architecture page says how a request travels and what each package may import; these tests
hold it to the code. The middleware order is read from the page's table and compared with the
stack `create_app()` builds, walked object by object; the files a signed-in request passes through
are traced while one runs; the import rules are checked on every module's syntax tree."""

import ast
import re
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from auth.users import SignIn, record_sign_in
from portal.application import create_app
from tests.support.in_process import offline_settings

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "explanation" / "architecture.md").read_text()
#: The project's top-level packages and modules, as an import names them.
PROJECT = ("portal", "kit", "directory", "auth", "db", "devidp", "apps", "migrations", "wsgi")
PRODUCT = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["portal.user"].email.encode()]
"""


def section(title: str) -> str:
    """The page's text under a `## title` heading, up to the next one."""
    start = PAGE.index(f"\n## {title}\n")
    end = PAGE.find("\n## ", start + 1)
    return PAGE[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every body row of the Markdown tables in `text`."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [row for row in rows if row[0] not in ("#", "file", "package")]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole portal in-process, with one product of each kind the mount table can hold."""
    tmp = tmp_path_factory.mktemp("architecture")
    stable = tmp / "apps" / "stable"
    for name, files in {
        "bench": {"__init__.py": PRODUCT},
        "broken": {"__init__.py": "raise RuntimeError('broken on purpose')\n"},
        "up": {"product.toml": 'upstream = "http://127.0.0.1:9"\n'},
        "run": {"product.toml": 'command = "python -m http.server {port}"\n'},
    }.items():
        (stable / name).mkdir(parents=True)
        for file, text in files.items():
            (stable / name / file).write_text(text)
    app = create_app(offline_settings(tmp, identity_cache_seconds=600, trusted_proxies=1))
    try:
        yield app
    finally:
        app.extensions["portal.mounts"].close()
        app.extensions["portal"].database.dispose()


def inner(layer: object) -> object:
    """The next layer in: each wraps the next as `app`, but the mount table keeps werkzeug's
    dispatcher in its watcher, and the dispatcher's product branch is the product's mount."""
    if type(layer).__name__ == "ProductMounts":
        return layer.watcher.dispatcher
    if type(layer).__name__ == "DispatcherMiddleware":
        return layer.mounts["/stable/bench"]
    return layer.app


def test_the_stack_is_built_in_the_order_the_page_gives(site):
    stated = [
        ticked(row[1])[0] for row in table_rows(section("The request path")) if ticked(row[1])
    ]
    built, layer = [], site.wsgi_app
    for _ in stated:
        built.append(type(layer).__name__)
        layer = inner(layer)
    assert built == stated
    assert layer.__name__ == "app"  # the product's own WSGI function


def test_the_dispatchers_root_is_the_portals_own_flask_app(site):
    layer = site.wsgi_app
    while type(layer).__name__ != "DispatcherMiddleware":
        layer = inner(layer)
    assert layer.app.__self__ is site
    assert layer.app.__func__ is type(site).wsgi_app
    assert "/idp" not in layer.mounts  # an issuer is configured: no development provider


def test_behind_each_gate_sits_the_kind_of_app_the_page_names(site):
    dispatcher = site.wsgi_app
    while type(dispatcher).__name__ != "DispatcherMiddleware":
        dispatcher = inner(dispatcher)
    found = {
        mount: type(dispatcher.mounts[mount].app.app).__name__
        for mount in ("/stable/up", "/stable/run", "/stable/broken")
    }
    assert found == {
        "/stable/up": "ProxyApp",
        "/stable/run": "ProcessMount",
        "/stable/broken": "BrokenProduct",
    }
    product_row = table_rows(section("The request path"))[-1]
    assert set(found.values()) <= set(ticked(product_row[3]))


def traced_files(request) -> list[str]:
    """The project's files whose code runs while `request()` does, in the order first entered."""
    root, seen = str(ROOT) + "/", []

    def profile(frame, event, arg):
        name = frame.f_code.co_filename
        if event == "call" and name.startswith(root):
            relative = name[len(root) :]
            if relative.split("/")[0] in PROJECT and relative not in seen:
                seen.append(relative)

    sys.setprofile(profile)
    try:
        answer = request()
    finally:
        sys.setprofile(None)
    assert (answer.status_code, answer.text) == (200, "bench@x.test")
    return seen


@pytest.fixture(scope="module")
def signed_in(site):
    """A session made directly, and a function sending one request to the product with it."""
    services = site.extensions["portal"]
    user = record_sign_in(services.database, SignIn("test|bench", "bench@x.test", "B", []))
    raw = services.store.save(None, {}, user.id)
    cookie = services.store.cookie_value(raw, "portal.test")
    client = Client(site, use_cookies=False)

    def request():
        return client.get(
            "/stable/bench/",
            base_url="http://portal.test",
            headers={"Cookie": f"portal_session={cookie}"},
            buffered=True,
        )

    request()  # the worker's first request also makes its metrics' labels
    return raw, request


def test_a_cached_signed_in_request_runs_the_files_the_page_lists(signed_in):
    _, request = signed_in
    text = section("The files a signed-in request passes through")
    listed = [ticked(row[0])[0] for row in table_rows(text)]
    request()
    assert traced_files(request) == listed
    assert f"**{len(listed)} files**" in text


def test_an_uncached_signed_in_request_runs_the_four_more_the_page_names(site, signed_in):
    raw, request = signed_in
    text = section("The files a signed-in request passes through")
    listed = [ticked(row[0])[0] for row in table_rows(text)]
    paragraph = text[text.index("When the identity is not cached") :]
    more = [name for name in ticked(paragraph) if name.endswith(".py")]
    site.extensions["portal"].resolver.forget(raw)
    assert sorted(traced_files(request)) == sorted(listed + more)
    assert f"**{len(listed) + len(more)} files**" in paragraph


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """Each project package the module imports, and whether only for type hints."""
    tree = ast.parse(path.read_text(), str(path))
    hinted = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PROJECT:
                found.append((top, id(node) in hinted))
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_by(package: str, *, hints: bool = True) -> set[str]:
    return {
        top
        for path in modules(package)
        for top, hint in imports_of(path)
        if top != package and (hints or not hint)
    }


def layer_table() -> dict[str, tuple[set[str], set[str]]]:
    """The page's table: package -> (what it imports, what it never imports)."""
    table = {}
    for row in table_rows(section("Layers")):
        package = ticked(row[0])[0].rstrip("/")
        imports = {name for name in ticked(row[1]) if name in PROJECT}
        never = {name for name in ticked(row[2]) if name in PROJECT}
        if "anything of the project" in row[2]:
            never = set(PROJECT) - {package}
        table[package] = (imports, never)
    return table


@pytest.mark.parametrize("package", ["db", "auth", "directory", "kit", "devidp", "portal", "apps"])
def test_each_package_imports_what_the_page_says_and_nothing_it_rules_out(package):
    imports, never = layer_table()[package]
    actual = imported_by(package)
    assert actual == imports
    assert not actual & never


def test_migrations_import_only_the_data_layer():
    assert imported_by("migrations") == layer_table()["migrations"][0] == {"db"}


def test_the_kit_reaches_the_directory_and_the_data_layer_only_for_type_hints():
    assert imported_by("kit", hints=False) == {"auth"}
    assert any(top == "auth" for top, _ in imports_of(ROOT / "kit" / "testing.py"))


def test_the_development_provider_is_imported_only_where_the_page_says():
    importers = {
        str(path.relative_to(ROOT))
        for path in modules("portal")
        if any(top == "devidp" for top, _ in imports_of(path))
    }
    assert importers == {"portal/development.py", "portal/cli.py"}


def test_only_the_admin_console_among_products_reaches_past_the_kit():
    reaching = {
        path.relative_to(ROOT).parts[:3]
        for path in modules("apps")
        if any(top in ("directory", "db") for top, _ in imports_of(path))
    }
    assert reaching == {("apps", "admin", "manage")}


def test_nothing_imports_the_portal_but_its_entry_points_tests_benchmarks_and_docs_hooks():
    outside = ("portal", "tests", "benchmarks", "docs_hooks", ".venv", "build", "docs")
    importers = {
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] not in outside
        and any(top == "portal" for top, _ in imports_of(path))
    }
    assert importers == {"wsgi.py", "gunicorn.conf.py"}
