"""What the console's browser tests share: quick password hashing, signing in
through the real login form, screenshots for docs/console/, and the check that
a screen never scrolls sideways.

Kept apart from :mod:`tests.console_support` (HTTP-level sign-in) so the tests
that need no browser never import Playwright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from amends.users import service as user_service
from amends.users.models import Role
from tests.console_support import PASSWORD, email_of

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"
TABLET = {"width": 820, "height": 1180}
LAPTOP = {"width": 1366, "height": 768}


def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: signing in six users must not take seconds."""
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


def signed_in(browser: Any, url: str, role: Role, viewport: dict[str, int] = LAPTOP) -> Any:
    """A new page signed in as ``role``'s user; its ``errors`` collect the
    browser console's errors, which the tests assert stay empty."""
    page = browser.new_context(viewport=viewport).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    page.goto(f"{url}/console/")
    assert "/console/login" in page.url  # sent to sign in first
    page.get_by_label("E-mail").fill(email_of(role))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/console/")
    return page


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """A screenshot to test-artifacts/console/ (docs/console/ keeps copies)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"horizontal scroll of {overflow}px"
