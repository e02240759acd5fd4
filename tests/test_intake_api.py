"""Intake from monitoring over HTTP: Alertmanager's webhook and the generic one open
drafts (deduplicated, grouped), which customers never see until they are published."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice, NoticeKind
from amends.errors import ValidationFailed
from amends.incidents.models import Incident
from tests import factories
from tests.api_support import API, bearer, error_of, in_process, issue_key
from tests.intake_support import alert, payload

pytestmark = pytest.mark.anyio

AM = f"{API}/intake/alertmanager"
EVENTS = f"{API}/intake/events"

RULES = """
[[rules]]
name = "dns"
matchers = ['alertname="DNSDown"']
components = ["dns"]
publish = ["critical"]
title = "Sites and e-mail cannot be reached"

[[rules]]
name = "mail"
matchers = ['alertname="MailQueue"', 'env!="staging"']
components = ["email"]
resolve = true
resolve_message = "E-mail is flowing again."

[[rules]]
name = "by-label"
component_label = "component"
"""


def _app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        owner = factories.customer(session, locale="en")
        factories.site(session, owner, ["web-hosting"])
    return app


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return _app(settings)


@pytest.fixture
def ruled_app(settings: Settings, tmp_path: Path) -> FastAPI:
    path = tmp_path / "intake.toml"
    path.write_text(RULES, encoding="utf-8")
    return _app(settings.model_copy(update={"intake_rules_file": path}))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # Alertmanager's http_config.authorization sends the key as a Bearer token.
    async with in_process(app) as client:
        client.headers.update(bearer(issue_key(app, Scope.write, "alertmanager")))
        yield client


@pytest.fixture
async def ruled(ruled_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(ruled_app) as client:
        client.headers.update(bearer(issue_key(ruled_app, Scope.write, "alertmanager")))
        yield client


def _count(app: FastAPI, model: type) -> int:
    with unit_of_work(app.state.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


async def _post(client: httpx.AsyncClient, body: dict[str, Any], url: str = AM) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_firing_alert_opens_a_draft_no_customer_sees(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = payload(alert("1a30ba71cca2921f", labels={"component": "web-hosting"}))
    result = await _post(client, body)
    assert [a["outcome"] for a in result["alerts"]] == ["opened"]
    draft = result["drafts"][0]
    assert draft["state"] == "draft"
    assert draft["components"] == {"web-hosting": "partial_outage"}  # no severity: the default
    assert draft["title"] == "ProbeFailure"
    assert draft["incident_id"] is None
    assert draft["alerts"][0]["ends_at"] is None, "Go's zero time is 'not known'"

    # Not an incident: no notice, nothing on the status page, nothing for the cadence.
    assert _count(app, Incident) == 0
    assert _count(app, Notice) == 0
    status = (await client.get(f"{API}/status")).json()
    assert "incidents" not in status or status["incidents"] == []
    assert all(c["status"] == "operational" for c in (await client.get(f"{API}/components")).json())
    listed = (await client.get(f"{API}/intake/drafts")).json()
    assert [d["id"] for d in listed] == [draft["id"]]


async def test_the_same_alert_firing_again_updates_the_same_draft(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = payload(alert("c6eadffa33fcdf37", labels={"component": "dns", "severity": "warning"}))
    first = await _post(client, body)
    # Alertmanager repeats the group every repeat_interval, and each HA replica sends it.
    again = await _post(client, body)
    third = await _post(client, body)
    assert [r["alerts"][0]["outcome"] for r in (first, again, third)] == [
        "opened",
        "updated",
        "updated",
    ]
    ids = {r["drafts"][0]["id"] for r in (first, again, third)}
    assert len(ids) == 1
    assert third["drafts"][0]["alerts"][0]["received"] == 3
    assert third["drafts"][0]["components"] == {"dns": "degraded_performance"}
    assert _count(app, Incident) == 0


async def test_alerts_of_one_group_join_one_draft_with_the_worst_status(
    client: httpx.AsyncClient,
) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    body = payload(
        alert("aaaa000000000001", labels={"component": "dns", "severity": "warning"}),
        alert(
            "aaaa000000000002",
            labels={"component": "email", "severity": "critical"},
            starts_at=start,
        ),
    )
    result = await _post(client, body)
    assert [a["outcome"] for a in result["alerts"]] == ["opened", "joined"]
    assert len(result["drafts"]) == 1
    draft = result["drafts"][0]
    assert draft["components"] == {"dns": "degraded_performance", "email": "major_outage"}
    assert dt.datetime.fromisoformat(draft["started_at"]) == start.replace(
        microsecond=start.microsecond
    )

    # Later, a third alert of the group, and the dns one worse than before.
    later = payload(
        alert("aaaa000000000003", labels={"component": "web-hosting", "severity": "error"}),
        alert("aaaa000000000001", labels={"component": "dns", "severity": "critical"}),
    )
    result = await _post(client, later)
    assert [a["outcome"] for a in result["alerts"]] == ["joined", "updated"]
    assert result["drafts"][0]["id"] == draft["id"]
    assert result["drafts"][0]["components"] == {
        "dns": "major_outage",
        "email": "major_outage",
        "web-hosting": "partial_outage",
    }


async def test_resolved_alerts_suggest_resolution_but_resolve_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    one = alert("bbbb000000000001", labels={"component": "dns"})
    two = alert("bbbb000000000002", labels={"component": "email"})
    await _post(client, payload(one, two))
    ended = dt.datetime.now(dt.UTC)
    half = await _post(client, payload(one | {"status": "resolved"}, two))
    assert half["alerts"][0]["outcome"] == "resolved"
    assert half["drafts"][0]["resolution_suggested_at"] is None, "one still fires"
    resolved = [
        alert(a["fingerprint"], status="resolved", labels=a["labels"], ends_at=ended)
        for a in (one, two)
    ]
    done = await _post(client, payload(*resolved))
    draft = done["drafts"][0]
    assert draft["resolution_suggested_at"] is not None
    assert draft["state"] == "draft" and draft["firing"] == 0
    assert draft["alerts"][0]["ends_at"] is not None
    assert _count(app, Incident) == 0

    # Firing again withdraws the suggestion: the same draft, not a new one.
    back = await _post(client, payload(one))
    assert back["drafts"][0]["id"] == draft["id"]
    assert back["drafts"][0]["resolution_suggested_at"] is None


async def test_alerts_the_rules_cannot_map_are_ignored_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = payload(
        alert("cccc000000000001", labels={"team": "ops"}),  # no component label
        alert("cccc000000000002", labels={"component": "billing"}),  # not in the catalog
        alert("cccc000000000003", labels={"component": "dns"}),
    )
    result = await _post(client, body)
    outcomes = {a["fingerprint"]: a for a in result["alerts"]}
    assert outcomes["cccc000000000001"]["outcome"] == "ignored"
    assert "'component'" in outcomes["cccc000000000001"]["reason"]
    assert outcomes["cccc000000000002"]["outcome"] == "ignored"
    assert "'billing'" in outcomes["cccc000000000002"]["reason"]
    assert "not in the catalog" in outcomes["cccc000000000002"]["reason"]
    assert outcomes["cccc000000000003"]["outcome"] == "opened"
    assert result["drafts"][0]["components"] == {"dns": "partial_outage"}

    scraped = (await client.get("/metrics")).text
    assert 'amends_intake_alerts_total{outcome="ignored",source="alertmanager"}' in scraped

    # A resolved alert nobody knew firing opens nothing.
    late = await _post(
        client, payload(alert("dddd", status="resolved", labels={"component": "dns"}))
    )
    assert late["alerts"][0]["outcome"] == "ignored"
    assert late["drafts"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"version": "3"}', "version"),
        (b"[]", "body"),
    ],
    ids=["bad json", "old version", "not an object"],
)
async def test_malformed_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, body: bytes, field: str
) -> None:
    response = await client.post(AM, content=body, headers={"Content-Type": "application/json"})
    error = error_of(response, 422, "validation_failed")
    assert error["field"] == field


async def test_a_start_without_offset_or_an_empty_group_is_refused(
    client: httpx.AsyncClient,
) -> None:
    naive = payload(alert("eeee", labels={"component": "dns"}))
    naive["alerts"][0]["startsAt"] = "2026-11-23T10:00:00"
    error = error_of(await client.post(AM, json=naive), 422, "validation_failed")
    assert error["field"] == "alerts.0.startsAt"
    empty = payload(alert("eeee", labels={"component": "dns"}))
    empty["alerts"] = []
    assert (
        error_of(await client.post(AM, json=empty), 422, "validation_failed")["field"] == "alerts"
    )


async def test_publish_opens_the_incident_and_owes_the_first_notice(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = payload(alert("ffff000000000001", labels={"component": "dns", "severity": "critical"}))
    draft = (await _post(client, body))["drafts"][0]
    published = await client.post(
        f"{API}/intake/drafts/{draft['id']}/publish",
        json={"title": "Sites cannot be reached", "message": "We know and we are on it."},
    )
    assert published.status_code == 201, published.text
    incident = published.json()
    assert incident["title"] == "Sites cannot be reached"
    assert incident["components"] == [{"key": "dns", "name": "DNS", "status": "major_outage"}]
    assert incident["started_at"] == draft["started_at"], "the outage began when the alert did"

    with unit_of_work(app.state.sessions) as session:
        notices = session.scalars(select(Notice)).all()
        assert [(n.incident_id, n.kind) for n in notices] == [(incident["id"], NoticeKind.first)]
        rows = session.scalar(select(func.count()).select_from(Delivery))
        assert rows and rows >= 1, "the customer on web-hosting (needs dns) is owed it"

    again = await client.post(f"{API}/intake/drafts/{draft['id']}/publish", json={})
    assert "already published" in error_of(again, 409, "conflict")["message"]
    shown = (await client.get(f"{API}/intake/drafts/{draft['id']}")).json()
    assert shown["state"] == "published"
    assert shown["incident_id"] == incident["id"]
    assert shown["published_by"] == "api key alertmanager"

    # The alert firing again joins the published draft: never a second incident.
    refired = await _post(client, body)
    assert refired["drafts"][0]["id"] == draft["id"]
    assert _count(app, Incident) == 1

    # A new alert of the group names another component: a note, not a silent change.
    mail = alert("ffff000000000002", labels={"component": "email", "severity": "warning"})
    joined = await _post(client, payload(body["alerts"][0], mail))
    assert joined["alerts"][1]["outcome"] == "joined"
    timeline = (await client.get(f"{API}/incidents/{incident['id']}")).json()
    assert [c["key"] for c in timeline["components"]] == ["dns"]
    note = timeline["updates"][-1]
    assert note["customer_facing"] is False
    assert "email" in note["message"] and "-c email=degraded_performance" in note["message"]
    await _post(client, payload(body["alerts"][0], mail))
    again = (await client.get(f"{API}/incidents/{incident['id']}")).json()
    assert len(again["updates"]) == len(timeline["updates"]), "said once"

    # Resolved: the incident stays open; the operator gets an internal note.
    resolved = payload(
        alert("ffff000000000001", status="resolved", labels=body["alerts"][0]["labels"]),
        mail | {"status": "resolved"},
    )
    await _post(client, resolved)
    timeline = (await client.get(f"{API}/incidents/{incident['id']}")).json()
    assert timeline["resolved_at"] is None
    note = timeline["updates"][-1]
    assert note["customer_facing"] is False
    assert f"amends incident resolve {incident['id']}" in note["message"]
    with unit_of_work(app.state.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 1, "no new notice"


async def test_rules_publish_by_severity_and_resolve_when_told(
    ruled_app: FastAPI, ruled: httpx.AsyncClient
) -> None:
    warning = payload(
        alert("1111", labels={"alertname": "DNSDown", "severity": "warning"}), group="DNSDown"
    )
    result = await _post(ruled, warning)
    assert result["drafts"][0]["state"] == "draft", "warning is not in the rule's publish list"
    assert result["drafts"][0]["title"] == "Sites and e-mail cannot be reached"
    assert _count(ruled_app, Notice) == 0

    critical = payload(
        alert("2222", labels={"alertname": "DNSDown", "severity": "critical"}), group="DNSDown"
    )
    result = await _post(ruled, critical)
    draft = result["drafts"][0]
    assert draft["state"] == "published"
    assert draft["published_by"] == "rule dns"
    with unit_of_work(ruled_app.state.sessions) as session:
        incident = session.get(Incident, draft["incident_id"])
        assert incident is not None and incident.title == "Sites and e-mail cannot be reached"
        kinds = session.scalars(select(Notice.kind)).all()
        assert kinds == [NoticeKind.first], "published: the first notice is owed at once"

    # The mail rule resolves its incident itself once every alert resolved.
    mail = alert("3333", labels={"alertname": "MailQueue", "env": "prod"})
    opened = (await _post(ruled, payload(mail, group="MailQueue")))["drafts"][0]
    published = await ruled.post(f"{API}/intake/drafts/{opened['id']}/publish", json={})
    assert published.status_code == 201
    await _post(ruled, payload(mail | {"status": "resolved"}, group="MailQueue"))
    incident = (await ruled.get(f"{API}/incidents/{published.json()['id']}")).json()
    assert incident["status"] == "resolved"
    assert incident["updates"][-1]["message"] == "E-mail is flowing again."
    with unit_of_work(ruled_app.state.sessions) as session:
        assert NoticeKind.resolution in session.scalars(select(Notice.kind)).all()

    staging = alert("4444", labels={"alertname": "MailQueue", "env": "staging"})
    skipped = await _post(ruled, payload(staging, group="MailQueue"))
    assert skipped["alerts"][0]["outcome"] == "ignored", "env!=staging excludes it"
    rules = (await ruled.get(f"{API}/intake/rules")).json()
    assert [r["name"] for r in rules["rules"]] == ["dns", "mail", "by-label"]


async def test_generic_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    first = await _post(
        client,
        {
            "id": "uptime-42",
            "severity": "critical",
            "summary": "Mail down",
            "components": ["email"],
        },
        EVENTS,
    )
    draft = first["drafts"][0]
    assert draft["source"] == "webhook"
    assert draft["components"] == {"email": "major_outage"}
    assert draft["title"] == "Mail down"
    # No group: the fingerprint is the group, so naming it as a group joins that draft.
    joined = await _post(
        client,
        {"fingerprint": "uptime-43", "group": "uptime-42", "labels": {"component": "domains"}},
        EVENTS,
    )
    assert joined["alerts"][0]["outcome"] == "joined"
    assert joined["drafts"][0]["components"] == {
        "domains": "partial_outage",
        "email": "major_outage",
    }
    other = await _post(
        client,
        {"fingerprint": "cron-1", "group": "cron", "components": {"dns": "degraded_performance"}},
        EVENTS,
    )
    assert other["alerts"][0]["outcome"] == "opened"
    assert other["drafts"][0]["components"] == {"dns": "degraded_performance"}
    for fingerprint, components in (("uptime-42", ["email"]), ("uptime-43", ["domains"])):
        resolved = await _post(
            client, {"id": fingerprint, "status": "resolved", "components": components}, EVENTS
        )
    assert resolved["drafts"][0]["id"] == draft["id"]
    assert resolved["drafts"][0]["resolution_suggested_at"] is not None

    unknown = await client.post(EVENTS, json={"id": "x", "components": ["billing"]})
    error = error_of(unknown, 422, "validation_failed")
    assert error["field"] == "components" and "'billing'" in error["message"]
    unmapped = await client.post(EVENTS, json={"id": "y", "labels": {"team": "ops"}})
    assert error_of(unmapped, 422, "validation_failed")["field"] == "labels"
    late = await _post(
        client, {"id": "never-seen", "status": "resolved", "components": ["dns"]}, EVENTS
    )
    assert late["alerts"][0]["outcome"] == "ignored" and late["drafts"] == []
    typo = await client.post(EVENTS, json={"id": "z", "componets": ["dns"]})
    assert error_of(typo, 422, "validation_failed")["field"] == "componets"
    assert _count(app, Incident) == 0


async def test_discarded_drafts_absorb_their_alerts_until_they_resolve(
    client: httpx.AsyncClient,
) -> None:
    noisy = alert("9999", labels={"component": "dns"})
    draft = (await _post(client, payload(noisy)))["drafts"][0]
    discarded = await client.post(
        f"{API}/intake/drafts/{draft['id']}/discard", json={"reason": "a test probe"}
    )
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["state"] == "discarded"
    again = await _post(client, payload(noisy))
    assert again["drafts"][0]["id"] == draft["id"], "still the discarded one"
    assert (await client.get(f"{API}/intake/drafts")).json() == []
    error_of(
        await client.post(f"{API}/intake/drafts/{draft['id']}/publish", json={}), 409, "conflict"
    )
    await _post(client, payload(noisy | {"status": "resolved"}))
    fresh = await _post(client, payload(noisy))
    assert fresh["alerts"][0]["outcome"] == "opened"
    assert fresh["drafts"][0]["id"] != draft["id"], "resolved and back: a new problem"


async def test_intake_needs_a_write_key(app: FastAPI) -> None:
    body = payload(alert("7777", labels={"component": "dns"}))
    read_key = issue_key(app, Scope.read, "reader")
    async with in_process(app) as client:
        error_of(await client.post(AM, json=body), 401, "unauthorized")
        error_of(
            await client.post(AM, json=body, headers=bearer("amends_nope")), 401, "unauthorized"
        )
        error_of(await client.post(AM, json=body, headers=bearer(read_key)), 403, "forbidden")
        error_of(
            await client.post(EVENTS, json={"id": "x"}, headers=bearer(read_key)), 403, "forbidden"
        )
        listed = await client.get(f"{API}/intake/drafts", headers=bearer(read_key))
        assert listed.status_code == 200 and listed.json() == []
        assert _count(app, Incident) == 0


def test_a_bad_rules_file_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "intake.toml"
    path.write_text('[[rules]]\nname = "dns"\nmatchers = ["alertname"]\ncomponents = ["dns"]\n')
    with pytest.raises(ValidationFailed) as caught:
        create_app(settings.model_copy(update={"intake_rules_file": path}))
    assert caught.value.field == "rules.0.matchers"
    assert str(path) in caught.value.message and "is not a matcher" in caught.value.message
