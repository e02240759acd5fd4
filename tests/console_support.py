"""What the console tests share: users of each role, signing in over HTTP, the CSRF token."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from amends.db import unit_of_work
from amends.users import service as user_service
from amends.users.models import Role

PASSWORD = "a long enough passphrase"


def email_of(role: Role) -> str:
    return f"{role.value}@console.example"


def add_users(app: FastAPI) -> None:
    """One committed user per role, all with PASSWORD."""
    with unit_of_work(app.state.sessions) as session:
        for role in Role:
            user_service.create_user(
                session=session, email=email_of(role), role=role, password=PASSWORD
            )


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """The browser's way: fetch the form (cookie + token), post it."""
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": form_token(page.text)},
    )


async def signed_in(client: httpx.AsyncClient, role: Role) -> str:
    """Sign in as ``role``'s user; returns the session's CSRF token."""
    answer = await sign_in(client, email_of(role))
    assert answer.status_code == 303, answer.text
    home = await client.get("/console/")
    assert home.status_code == 200, home.text
    return form_token(home.text)
