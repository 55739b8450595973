import pytest

from auth.tiers import TIER_NAMES, Tier

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("user", "product", "opens"),
    [
        (Tier.ADMIN, Tier.ADMIN, True),
        (Tier.ADMIN, Tier.STABLE, True),
        (Tier.DEVEL, Tier.ADMIN, False),
        (Tier.DEVEL, Tier.EA, True),
        (Tier.EA, Tier.DEVEL, False),
        (Tier.EA, Tier.STABLE, True),
        (Tier.STABLE, Tier.EA, False),
        (Tier.STABLE, Tier.STABLE, True),
    ],
)
def test_a_tier_opens_its_own_and_every_lower_tier(user, product, opens):
    assert user.opens(product) is opens


def test_tiers_are_listed_highest_first():
    assert TIER_NAMES == ("admin", "devel", "ea", "stable")


def test_parse_refuses_unknown_tier_names_with_the_list():
    with pytest.raises(ValueError, match="unknown tier 'beta'; tiers are admin, devel, ea, stable"):
        Tier.parse("beta")
