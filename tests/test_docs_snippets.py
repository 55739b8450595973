"""Every code snippet in the docs works: scripts run, documented products are served, YAML parses.

The convention (each docs page follows it): a ```python block without a title is a complete
script; a block titled with a product's file (`apps/<tier>/<name>/...`) is written to a
folder of products, which a real portal serves, each answering a signed-in user of its tier; a
```yaml block parses. Each test is named for its page and block, so a failure says which one.
"""

import subprocess
import sys
from contextlib import ExitStack

import pytest
import yaml

from auth.tiers import Tier
from portal.products.discovery import Status
from tests.support.doc_snippets import (
    DOCS,
    all_snippets,
    pages,
    products_by_page,
    snippets_of,
    write_products,
)
from tests.support.live import private_site
from tests.support.signin import sign_in

pytestmark = pytest.mark.site

SNIPPETS = all_snippets()
SCRIPTS = [s for s in SNIPPETS if s.runs]
YAML = [s for s in SNIPPETS if s.is_yaml]
PRODUCTS = products_by_page(SNIPPETS)
PRODUCT_CASES = [(page, key) for page, products in PRODUCTS.items() for key in products]
#: A page that shows each kind of snippet, so the collector is known to find them.
EXAMPLE_PAGE = "reference/product-toml.md"


@pytest.mark.parametrize("snippet", SCRIPTS, ids=lambda s: s.id)
def test_a_python_snippet_runs_as_a_script(snippet, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(snippet.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{snippet.id} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("snippet", YAML, ids=lambda s: s.id)
def test_a_yaml_snippet_parses(snippet):
    list(yaml.safe_load_all(snippet.code))


@pytest.fixture(scope="module")
def documented_sites(tmp_path_factory):
    """One portal per page that documents products, serving that page's products alone."""
    with ExitStack() as stack:
        sites = {}
        for page, products in PRODUCTS.items():
            apps = tmp_path_factory.mktemp("apps")
            write_products([s for blocks in products.values() for s in blocks], apps)
            sites[page] = stack.enter_context(private_site(tmp_path_factory, apps_dir=apps))
        yield sites


@pytest.mark.parametrize(("page", "key"), PRODUCT_CASES, ids=[f"{p}:{k}" for p, k in PRODUCT_CASES])
def test_a_documented_product_is_mounted_and_answers_its_tier(documented_sites, page, key):
    live = documented_sites[page]
    product = next(p for p in live.services.discovery.products if p.info.key == key)
    assert (product.status, product.error) == (Status.LOADED, None), product.traceback
    tier = Tier.parse(key.split("/")[0])
    answer = sign_in(live.base_url, tier.value).get(live.product_url(key), timeout=30)
    assert answer.status_code == 200, answer.text[:2000]


def test_the_collector_reads_every_page_and_finds_each_kind_of_snippet():
    scanned = {snippet.page for snippet in SNIPPETS}
    assert scanned <= {path.relative_to(DOCS).as_posix() for path in pages()}
    example = snippets_of((DOCS / EXAMPLE_PAGE).read_text(), EXAMPLE_PAGE)
    assert {s.product for s in example if s.product} == {"stable/notes"}
    assert any(s.runs for s in example)
    assert EXAMPLE_PAGE in PRODUCTS and any(s.page == EXAMPLE_PAGE for s in SCRIPTS)


def test_an_indented_block_is_read_without_its_indent():
    text = '!!! note\n\n    ```python title="apps/ea/x/__init__.py"\n    app = None\n    ```\n'
    (snippet,) = snippets_of(text, "page.md")
    assert (snippet.product, snippet.code, snippet.line) == ("ea/x", "app = None\n", 3)
