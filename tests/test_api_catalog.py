"""Components, customers and subscribers over HTTP, against the real app and databases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a write key (which includes read)."""
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app) as client:
        yield client


async def _put_catalog(client: httpx.AsyncClient) -> None:
    for key, body in [
        ("dns", {"name": "DNS", "group": "Core"}),
        ("web-hosting", {"name": "Web hosting", "depends_on": ["dns"]}),
        ("email", {"name": "E-mail", "depends_on": ["dns"]}),
    ]:
        response = await client.put(f"{API}/components/{key}", json=body)
        assert response.status_code == 200, response.text


# -- components ---------------------------------------------------------------


async def test_components_with_dependencies_and_status(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await _put_catalog(client)
    listed = (await anonymous.get(f"{API}/components")).json()
    assert [(c["key"], c["depends_on"], c["status"]) for c in listed] == [
        ("dns", [], "operational"),
        ("email", ["dns"], "operational"),
        ("web-hosting", ["dns"], "operational"),
    ]
    opened = await client.post(
        f"{API}/incidents", json={"title": "DNS", "components": {"dns": "major_outage"}}
    )
    assert opened.status_code == 201
    one = await anonymous.get(f"{API}/components/dns")
    assert one.json()["status"] == "major_outage" and one.json()["group"] == "Core"
    statuses = (await anonymous.get(f"{API}/status")).json()
    assert statuses == {"dns": "major_outage", "email": "operational", "web-hosting": "operational"}


async def test_put_is_idempotent_and_keeps_what_is_left_out(client: httpx.AsyncClient) -> None:
    await _put_catalog(client)
    url = f"{API}/components/web-hosting"
    first = await client.put(url, json={"description": "Shared hosting", "position": 2})
    again = await client.put(url, json={"description": "Shared hosting", "position": 2})
    assert first.json() == again.json()
    assert first.json()["name"] == "Web hosting"
    assert first.json()["depends_on"] == ["dns"]
    cleared = await client.put(url, json={"depends_on": [], "group": ""})
    assert cleared.json()["depends_on"] == [] and cleared.json()["group"] is None


@pytest.mark.parametrize(
    ("key", "body", "status", "code", "field"),
    [
        ("dns", {"depends_on": ["web-hosting"]}, 422, "validation_failed", "depends_on"),
        ("dns", {"depends_on": ["dns"]}, 422, "validation_failed", "depends_on"),
        ("dns", {"depends_on": ["nope"]}, 404, "not_found", "components"),
        ("bad key!", {}, 422, "validation_failed", "key"),
        ("dns", {"name": ""}, 422, "validation_failed", "name"),
        ("dns", {"colour": "red"}, 422, "validation_failed", "colour"),
    ],
)
async def test_component_errors(
    client: httpx.AsyncClient, key: str, body: dict[str, object], status: int, code: str, field: str
) -> None:
    await _put_catalog(client)
    response = await client.put(f"{API}/components/{key}", json=body)
    assert error_of(response, status, code)["field"] == field
    assert (await client.get(f"{API}/components/dns")).json()["depends_on"] == []


async def test_delete_component(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _put_catalog(client)
    await client.put(f"{API}/components/builder", json={"depends_on": ["web-hosting"]})
    await client.put(f"{API}/components/domains", json={})
    with unit_of_work(app.state.sessions) as session:
        owner = factories.customer(session)
        factories.site(session, owner, ["email"])
    opened = await client.post(
        f"{API}/incidents", json={"title": "Builder", "components": {"builder": "partial_outage"}}
    )
    assert opened.status_code == 201

    refusals = {
        "email": "used by 1 sites",
        "web-hosting": "needed by builder",
        "builder": "incident history",
    }
    for key, reason in refusals.items():
        response = await client.delete(f"{API}/components/{key}")
        assert reason in error_of(response, 409, "conflict")["message"], key
        assert (await client.get(f"{API}/components/{key}")).status_code == 200

    assert (await client.delete(f"{API}/components/domains")).status_code == 204
    error_of(await client.get(f"{API}/components/domains"), 404, "not_found")
    error_of(await client.delete(f"{API}/components/domains"), 404, "not_found")


async def test_component_list_matches_the_cli(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    from amends.cli import app as cli

    await _put_catalog(client)
    result = CliRunner().invoke(
        cli, ["--database-url", settings.database_url, "component", "list", "--json"]
    )
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    from_api = (await client.get(f"{API}/components")).json()
    fields = ("key", "name", "group", "description", "position", "depends_on", "status")
    assert [{f: c[f] for f in fields} for c in from_api] == from_cli


# -- customers ----------------------------------------------------------------


CUSTOMER = {
    "external_id": "C1",
    "name": "Lucía Núñez",
    "email": "Lucia@Example.es",
    "phone": "+34 612 34 56 78",
    "locale": "es",
    "timezone": "Europe/Madrid",
    "tier": "premium",
    "channels": "email;sms",
}


async def test_customer_upsert_validates_like_an_import(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{API}/customers", json=CUSTOMER)
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["email"], body["phone"]) == ("Lucia@example.es", "+34612345678")
    assert body["channels"] == ["email", "sms"] and body["opt_out"] == []

    for change, field in [
        ({"phone": "612345678"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"locale": "xx-nope"}, "locale"),
        ({"password": "x"}, "password"),
    ]:
        response = await client.post(f"{API}/customers", json=CUSTOMER | change)
        assert error_of(response, 422, "validation_failed")["field"] == field


async def test_customers_need_a_read_key(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await client.post(f"{API}/customers", json=CUSTOMER)
    for path in ("/customers", "/customers/C1"):
        response = await anonymous.get(API + path)
        error_of(response, 401, "unauthorized")
        assert "Lucía" not in response.text


async def test_keyset_pagination(client: httpx.AsyncClient) -> None:
    for n in range(1, 6):
        tier = "premium" if n % 2 else "standard"
        record = CUSTOMER | {"external_id": f"C{n}", "tier": tier, "channels": "email"}
        assert (await client.post(f"{API}/customers", json=record)).status_code == 200

    async def pages(**params: object) -> list[list[str]]:
        seen: list[list[str]] = []
        after = None
        while True:
            query = {**params, **({"after": after} if after else {})}
            page = (await client.get(f"{API}/customers", params=query)).json()
            seen.append([c["external_id"] for c in page["items"]])
            after = page["next_after"]
            if after is None:
                return seen

    assert await pages(limit=2) == [["C1", "C2"], ["C3", "C4"], ["C5"]]
    # An exact multiple ends on the last full page, not on an empty one.
    assert await pages(limit=5) == [["C1", "C2", "C3", "C4", "C5"]]
    assert await pages(limit=2, tier="premium") == [["C1", "C3"], ["C5"]]
    assert await pages(limit=10, tier="gold") == [[]]
    error_of(await client.get(f"{API}/customers", params={"limit": 1001}), 422, "validation_failed")


async def test_customer_detail_with_sites(app: FastAPI, client: httpx.AsyncClient) -> None:
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        owner = factories.customer(session, external_id="C9")
        site = factories.site(session, owner, ["web-hosting", "dns"], price=799)
        site_id = site.external_id
    detail = (await client.get(f"{API}/customers/C9")).json()
    assert [
        (s["external_id"], s["components"], s["monthly_price_minor"], s["currency"])
        for s in detail["sites"]
    ] == [(site_id, ["dns", "web-hosting"], 799, "EUR")]
    error = error_of(await client.get(f"{API}/customers/nobody"), 404, "not_found")
    assert error["field"] == "customer"


async def test_opt_out_is_cleared_only_by_the_customers_choice(client: httpx.AsyncClient) -> None:
    await client.post(f"{API}/customers", json=CUSTOMER)
    url = f"{API}/customers/C1/opt-out/sms"
    assert (await client.put(url, json={"opted_out": True})).json()["opt_out"] == ["sms"]
    # Re-sending the customer (as an import would) does not clear it.
    again = await client.post(f"{API}/customers", json=CUSTOMER | {"opt_out": ""})
    assert again.json()["opt_out"] == ["sms"]
    assert (await client.put(url, json={"opted_out": False})).json()["opt_out"] == []
    bad = await client.put(f"{API}/customers/C1/opt-out/pigeon", json={})
    assert error_of(bad, 422, "validation_failed")["field"] == "channel"
    error_of(await client.put(f"{API}/customers/C404/opt-out/sms", json={}), 404, "not_found")


# -- subscribers --------------------------------------------------------------


async def test_subscribers(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    await _put_catalog(client)
    created = await client.post(
        f"{API}/subscribers",
        json={"kind": "email", "address": "Ops@Example.com", "components": ["dns"], "locale": "es"},
    )
    assert created.status_code == 201, created.text
    subscriber = created.json()
    assert (subscriber["address"], subscriber["components"]) == ("Ops@example.com", ["dns"])
    hook = await client.post(
        f"{API}/subscribers", json={"kind": "webhook", "address": "https://hooks.example/x"}
    )
    assert hook.json()["components"] == []

    listed = (await client.get(f"{API}/subscribers")).json()
    assert [s["id"] for s in listed] == [subscriber["id"], hook.json()["id"]]
    error_of(await anonymous.get(f"{API}/subscribers"), 401, "unauthorized")

    for body, status, code, field in [
        ({"kind": "email", "address": "Ops@Example.com"}, 409, "conflict", "address"),
        ({"kind": "sms", "address": "612"}, 422, "validation_failed", "address"),
        ({"kind": "webhook", "address": "ftp://x"}, 422, "validation_failed", "address"),
        (
            {"kind": "email", "address": "b@example.com", "components": ["x"]},
            404,
            "not_found",
            "components",
        ),
    ]:
        response = await client.post(f"{API}/subscribers", json=body)
        assert error_of(response, status, code)["field"] == field

    url = f"{API}/subscribers/{subscriber['id']}"
    assert (await client.delete(url)).status_code == 204
    error_of(await client.delete(url), 404, "not_found")
    assert len((await client.get(f"{API}/subscribers")).json()) == 1
