"""A credit policy refused names the field and the TOML line, in the loader
(``amends credits policy add``) and on the console's policies page; a policy
added there (pasted or uploaded) is offered on the incident's credits page."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.credits import policies
from amends.credits.models import CreditPolicy
from amends.credits.policy_lines import line_of
from amends.db import unit_of_work
from amends.incidents.models import ComponentStatus
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, signed_in

TIERED = """\
# a comment with key = "not this"
key = "sla-2026"
kind = "tiered"
description = \"\"\"
states = ["not", "a", "key"]
\"\"\"
states = [
  "active",
  "published",
]

[[tiers]]
below = 99.9
percent = 10

[[tiers]]
"below" = 99.0   # quoted keys too
percent = 30
"""


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        (("key",), 2),
        (("kind",), 3),
        (("description",), 4),
        (("states",), 7),
        (("states", 1), 7),  # an item of a multi-line array: the line that opens it
        (("tiers", 0), 12),
        (("tiers", 0, "percent"), 14),
        (("tiers", 1), 16),
        (("tiers", 1, "below"), 17),
        (("tiers", 1, "percent"), 18),
        (("months",), None),  # not in the document: no line to point at
    ],
)
def test_each_path_is_found_on_its_line(loc: tuple[str | int, ...], line: int | None) -> None:
    assert line_of(TIERED, loc) == line


@pytest.mark.parametrize(
    ("change", "field", "line", "says"),
    [
        (("percent = 30", "percent = 3000"), "tiers.1.percent", 18, "less than or equal to 1000"),
        (('kind = "tiered"', 'kind = "generous"'), "kind", 3, "'flat', 'tiered' or 'pro_rata'"),
        (('"published",', '"gone",'), "states.1", 7, "'active'"),
        (("below = 99.9", "below = 99.9\nbonus = 1"), "tiers.0.bonus", 14, "Extra inputs"),
        (('key = "sla-2026"', 'key = "Not A Key"'), "key", 2, "pattern"),
    ],
)
def test_a_refused_policy_names_the_field_and_the_line(
    change: tuple[str, str], field: str, line: int, says: str
) -> None:
    document = TIERED.replace(*change, 1)
    with pytest.raises(policies.PolicyInvalid) as caught:
        policies.parse(document, source="sla.toml")
    error = caught.value
    assert error.field == field
    assert (error.problems[0][0], error.problems[0][1]) == (line, field)
    assert error.message.startswith(f"sla.toml: line {line}: {field}: ")
    assert says in error.message


def test_a_toml_syntax_error_says_its_line() -> None:
    with pytest.raises(policies.PolicyInvalid) as caught:
        policies.parse('key = "x"\nkind = "flat"\nmonths = = 2\n')
    assert caught.value.problems[0][0] == 3
    assert caught.value.message.startswith("policy: line 3: not valid TOML")


def test_every_problem_is_reported_and_a_missing_field_has_no_line() -> None:
    with pytest.raises(policies.PolicyInvalid) as caught:
        policies.parse('key = "x"\nmonths = 99\n')
    assert [(line, field) for line, field, _ in caught.value.problems] == [
        (None, "kind"),
        (2, "months"),
    ]


def test_the_builtin_policies_still_parse() -> None:
    for name, document in policies.BUILTIN.items():
        assert policies.parse(document, source=name).key == name


# The console's policies page (an admin), through the real app, on both databases.

GOOD = """\
key = "half-month"
kind = "flat"
description = "Half a month for every affected site"
months = 0.5
"""


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session), ["web-hosting"], price=1200)
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            notify=False,
        )  # fmt: skip
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


@pytest.mark.anyio
async def test_a_pasted_policy_with_errors_is_shown_back_with_lines_and_stores_nothing(
    app: FastAPI,
) -> None:
    bad = GOOD.replace("months = 0.5", "months = 48\nfree_lunch = true")
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        answer = await client.post("/console/policies", data={"csrf": csrf, "document": bad})
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert "<strong>line 4</strong> <code>months</code>: Input should be less than" in text
    assert "<strong>line 5</strong> <code>free_lunch</code>: Extra inputs" in text
    assert "free_lunch = true\n</textarea>" in text  # the document comes back to fix
    with unit_of_work(app.state.sessions) as session:
        assert session.scalars(select(CreditPolicy)).all() == []


@pytest.mark.anyio
async def test_an_uploaded_policy_is_stored_once_and_offered_on_the_credits_page(
    app: FastAPI,
) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        files = {"file": ("half-month.toml", GOOD.encode(), "application/toml")}
        for _ in range(2):  # the same document twice is one version
            added = await client.post(
                "/console/policies", data={"csrf": csrf, "incident": "1"}, files=files
            )
            assert added.status_code == 303, added.text
            assert added.headers["location"] == "/console/policies?added=half-month%401&incident=1"
        listing = await client.get(added.headers["location"])
        assert "Half a month for every affected site" in listing.text
        assert 'href="/console/incidents/1/credits?policy=half-month%401"' in listing.text
        credits = await client.get("/console/incidents/1/credits")
        assert "<option>half-month@1</option>" in credits.text
        preview = await client.get(
            "/console/incidents/1/credits", params={"policy": "half-month@1"}
        )
        assert preview.status_code == 200
        assert "€6.00" in html.unescape(preview.text)  # half of a €12 month
        changed = GOOD.replace("0.5", "0.75")
        again = await client.post("/console/policies", data={"csrf": csrf, "document": changed})
        assert again.headers["location"] == "/console/policies?added=half-month%402"
    with unit_of_work(app.state.sessions) as session:
        versions = session.scalars(select(CreditPolicy.version).order_by(CreditPolicy.id)).all()
        logged = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "policy.add")
        ).all()
    assert versions == [1, 2]
    assert logged == ["half-month@1", "half-month@2"]


@pytest.mark.anyio
async def test_an_approver_cannot_add_a_policy(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.approver)
        refused = await client.post("/console/policies", data={"csrf": csrf, "document": GOOD})
        assert refused.status_code == 403
        credits = await client.get("/console/incidents/1/credits")
        assert "Add a policy" not in credits.text  # the link is for admins


@pytest.mark.anyio
async def test_an_empty_a_huge_or_a_binary_upload_is_refused(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        empty = await client.post("/console/policies", data={"csrf": csrf, "document": "  "})
        assert empty.status_code == 422 and "paste a policy" in empty.text
        huge = GOOD + "# " + "x" * 70_000 + "\n"
        files = {"file": ("huge.toml", huge.encode(), "application/toml")}
        big = await client.post("/console/policies", data={"csrf": csrf}, files=files)
        assert big.status_code == 422 and "larger than 64 KiB" in big.text
        files = {"file": ("policy.toml", b"\xff\xfe\x00k", "application/octet-stream")}
        binary = await client.post("/console/policies", data={"csrf": csrf}, files=files)
        assert binary.status_code == 422 and "not UTF-8" in binary.text
    with unit_of_work(app.state.sessions) as session:
        assert session.scalars(select(CreditPolicy)).all() == []
