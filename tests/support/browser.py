"""Signing in in a real browser: the portal's `/login`, the provider's form, back to the portal."""

from __future__ import annotations

from urllib.parse import quote

from tests.support.signin import DEMO_PASSWORDS


def sign_in_in_browser(
    page, base_url: str, tier_or_email: str, password: str | None = None, next_path: str = "/"
) -> None:
    """Sign `page` in as a demo user (by tier) or any provider user, landing on `next_path`."""
    if password is None:
        email, password = DEMO_PASSWORDS[tier_or_email]
    else:
        email = tier_or_email
    page.goto(f"{base_url}/login?next={quote(next_path)}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + next_path)
