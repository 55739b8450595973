"""Paths inside products: how the Gate reads a request path, what product.toml may say about
entry points and stricter sub-paths, and what PORTAL_BLOCK accepts."""

from pathlib import Path

import pytest

from auth.identity import PortalUser, read_product_info
from auth.product_paths import (
    EntryPoint,
    PathPolicy,
    StricterPath,
    parse_block_pattern,
    parse_blocks,
    path_readings,
)
from auth.tiers import Tier
from auth.users import Identity
from portal.config import ConfigError, load_settings

pytestmark = pytest.mark.unit

HAZARD = StricterPath("/svc_hazard", Tier.EA)


def product(tmp_path: Path, toml: str, tier: Tier = Tier.STABLE):
    folder = tmp_path / "seis"
    folder.mkdir(exist_ok=True)
    (folder / "product.toml").write_text(toml, encoding="utf-8")
    return read_product_info(tier, folder)


def identity(tier: Tier, grants: frozenset[str] = frozenset()) -> Identity:
    user = PortalUser(id=1, subject="auth0|x", email="x@example.com", name="X", tier=tier)
    return Identity(user=user, blocked=False, session_id="s", logout_token="t", grants=grants)


@pytest.mark.parametrize(
    ("path_info", "reading"),
    [
        ("/svc_hazard/", "/svc_hazard"),
        ("/SVC_Hazard/api", "/svc_hazard/api"),
        ("//svc_hazard//api/", "/svc_hazard/api"),
        ("/svc_disagg/../svc_hazard/", "/svc_hazard"),
        ("/svc_disagg/%2e%2e/svc_hazard/", "/svc_hazard"),
        ("/svc_hazard%252Fapi", "/svc_hazard/api"),
        ("/svc_hazard\\api", "/svc_hazard/api"),
        ("/svc_hazard;jsessionid=1/api", "/svc_hazard/api"),
        ("/./svc_hazard/./api", "/svc_hazard/api"),
        ("/../../svc_hazard", "/svc_hazard"),
        ("", "/"),
    ],
)
def test_a_path_is_read_every_way_a_product_might_read_it(path_info, reading):
    assert reading in path_readings(path_info)


def test_dot_segments_count_both_resolved_and_as_the_router_sees_them():
    assert path_readings("/svc_hazard/../svc_disagg/") == {
        "/svc_hazard/../svc_disagg",
        "/svc_disagg",
    }


def test_utf8_paths_are_read_as_text():
    assert path_readings("/r\u00c3\u00a9sum\u00c3\u00a9/") == {"/r\u00e9sum\u00e9"}


def test_a_stricter_prefix_covers_itself_and_what_is_under_it_only():
    assert HAZARD.covers("/svc_hazard")
    assert HAZARD.covers("/svc_hazard/api/curve")
    assert not HAZARD.covers("/svc_hazardous")
    assert not HAZARD.covers("/svc_disagg")


def test_the_strictest_rule_any_reading_matches_decides():
    policy = PathPolicy.for_product(Tier.STABLE, (HAZARD,), ())
    assert policy.needs(path_readings("/svc_disagg/../svc_hazard/x")) == (Tier.EA, HAZARD)
    assert policy.needs(path_readings("/svc_hazard/../svc_disagg/")) == (Tier.EA, HAZARD)
    assert policy.needs(path_readings("/svc_disagg/")) == (Tier.STABLE, None)


def test_a_product_with_no_rules_and_no_blocks_has_no_path_policy():
    assert PathPolicy.for_product(Tier.STABLE, (), ()) is None


def test_rules_no_stricter_than_the_folder_change_nothing():
    assert PathPolicy.for_product(Tier.EA, (StricterPath("/old", Tier.STABLE),), ()) is None
    assert PathPolicy.for_product(Tier.EA, (StricterPath("/same", Tier.EA),), ()) is None


def test_product_toml_declares_entry_points_and_stricter_paths(tmp_path):
    info = product(
        tmp_path,
        '[[entry_points]]\npath = "/svc_hazard/"\ntitle = "Hazard"\ndescription = "Curves."\n'
        '[[entry_points]]\npath = "/"\ntitle = "Home"\n'
        '[stricter_paths]\n"/svc_hazard/" = "ea"\n"/svc_hazard/admin" = "devel"\n',
    )
    assert info.entry_points == (
        EntryPoint("/svc_hazard/", "Hazard", "Curves."),
        EntryPoint("/", "Home", ""),
    )
    assert info.stricter_paths == (
        StricterPath("/svc_hazard/admin", Tier.DEVEL),
        StricterPath("/svc_hazard", Tier.EA),
    )
    assert info.tier_at("/svc_hazard/") is Tier.EA
    assert info.tier_at("/svc_hazard/admin/x") is Tier.DEVEL
    assert info.tier_at("/") is Tier.STABLE


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('entry_points = "/"', "entry_points must be a list of tables"),
        ('[[entry_points]]\npath = "svc"\ntitle = "S"', "entry_points #1: path must start with /"),
        ('[[entry_points]]\npath = "https://x/"\ntitle = "S"', "path must start with /"),
        ('[[entry_points]]\npath = "/svc/"', "entry_points #1: title is required"),
        ('[[entry_points]]\npath = "/"\ntitle = 3', "entry_points #1: title must be a string"),
        ('[[entry_points]]\npath = "/"\ntitle = "S"\nurl = "/"', "has unknown keys url"),
        ('stricter_paths = "ea"', "stricter_paths must be a table"),
        ('[stricter_paths]\n"/svc/" = "gold"', "stricter_paths '/svc/': the tier must be one of"),
        ('[stricter_paths]\n"/svc/../x" = "ea"', "has a dot segment"),
        ('[stricter_paths]\n"/" = "ea"', "move its folder to that tier instead"),
    ],
)
def test_bad_path_metadata_is_a_readable_error(tmp_path, toml, message):
    with pytest.raises(ValueError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        product(tmp_path, toml)


def test_a_grant_opens_the_folder_tier_but_not_a_stricter_path(tmp_path):
    info = product(tmp_path, '[stricter_paths]\n"/svc_hazard/" = "devel"', tier=Tier.EA)
    granted = identity(Tier.STABLE, grants=frozenset({info.key}))
    assert granted.opens(info)
    assert granted.opens(info, Tier.EA)
    assert not granted.opens(info, Tier.DEVEL)
    assert identity(Tier.DEVEL).opens(info, Tier.DEVEL)


@pytest.mark.parametrize(
    ("entry", "product_glob", "path"),
    [
        ("devel/seistech/svc_hazard/*", "devel/seistech", "/svc_hazard/*"),
        ("ea/disagg/api/export", "ea/disagg", "/api/export"),
        ("EA/Disagg/API/Export/", "ea/disagg", "/api/export"),
        ("ea/disagg", "ea/disagg", "/*"),
        ("ea/disagg/", "ea/disagg", "/*"),
        ("*/disagg/api/*", "*/disagg", "/api/*"),
    ],
)
def test_a_block_entry_names_products_and_a_path(entry, product_glob, path):
    block = parse_block_pattern(entry)
    assert (block.product, block.path) == (product_glob, path)


@pytest.mark.parametrize(
    ("entry", "path", "removed"),
    [
        ("stable/seis/svc_report/*", "/svc_report/", True),
        ("stable/seis/svc_report/*", "/svc_report", True),
        ("stable/seis/svc_report/*", "/svc_report/api/export", True),
        ("stable/seis/svc_report/*", "/svc_reports/", False),
        ("stable/seis/api/export", "/api/export/", True),
        ("stable/seis/api/export", "/api/export/more", False),
        ("stable/seis", "/", True),
        ("stable/seis", "/anything/at/all", True),
        ("stable/seis/svc_report/*", "/svc_disagg/../svc_report/", True),
        ("stable/seis/svc_report/*", "/SVC_REPORT/", True),
    ],
)
def test_a_block_removes_exactly_the_paths_it_names(entry, path, removed):
    assert parse_block_pattern(entry).removes(path_readings(path)) is removed


def test_block_entries_are_separated_by_spaces_or_commas():
    blocks = parse_blocks("ea/a/x, ea/b/y\n devel/c")
    assert [block.text for block in blocks] == ["ea/a/x", "ea/b/y", "devel/c"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("seistech", "PORTAL_BLOCK entry 'seistech' must be <tier>/<name>[/<path>]"),
        ("gold/seistech/x", "PORTAL_BLOCK entry 'gold/seistech/x': 'gold' is not a tier"),
        ("ea/x/../admin", "PORTAL_BLOCK entry 'ea/x/../admin': '../admin' has a dot segment"),
    ],
)
def test_a_bad_block_entry_stops_the_portal_with_a_readable_error(tmp_path, setting, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_BLOCK": setting})
    assert str(raised.value).startswith(message)


def test_block_entries_reach_the_settings(tmp_path):
    settings = load_settings(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_BLOCK": "stable/seistech/svc_report/*"}
    )
    assert [block.text for block in settings.blocked_paths] == ["stable/seistech/svc_report/*"]
