"""Drafts over the API, through the real app over HTTP, on both databases:
scopes, the whole flow (create → edit → ask → send) with the two-person rule
judged per API key, the override a blocking finding needs, one send only, bad
templates refused naming the field, the preview, discarding, the audit log and
the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice
from amends.facts.models import AuditOverride
from amends.users.models import AuditEntry
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

pytestmark = pytest.mark.anyio
DRAFTS = f"{API}/incidents/1/drafts"
BLOCKING = "We are sorry for any inconvenience this may have caused."  # N2 blocks
FINE = "Hello {{ name }}, the figure we gave about {{ sites }} was wrong; here is the right one."


def _app(settings: Settings, **overrides: object) -> FastAPI:
    app = create_app(settings.model_copy(update=overrides))
    with unit_of_work(app.state.sessions) as session:
        factories.dns_down_for_ana_and_bob(session)
    return app


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = _app(settings, console_two_person_rule=True)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _rows(app: FastAPI, model: type) -> list[object]:
    with unit_of_work(app.state.sessions) as session:
        rows = list(session.scalars(select(model)).all())
        session.expunge_all()
        return rows


async def _create(client: httpx.AsyncClient, key: str, kind: str = "correction") -> dict:  # type: ignore[type-arg]
    made = await client.post(DRAFTS, json={"kind": kind}, headers={"X-API-Key": key})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def test_scopes(app: FastAPI) -> None:
    reader, writer = issue_key(app, Scope.read, "reader"), issue_key(app, Scope.write, "writer")
    async with in_process(app) as client:
        error_of(await client.get(DRAFTS), 401, "unauthorized")
        error_of(await client.post(DRAFTS, json={"kind": "update"}), 401, "unauthorized")
        read = {"X-API-Key": reader}
        error_of(await client.post(DRAFTS, json={"kind": "update"}, headers=read), 403, "forbidden")
        draft = await _create(client, writer)
        where = f"{DRAFTS}/{draft['id']}"
        assert (await client.get(DRAFTS, headers=read)).json()[0]["id"] == draft["id"]
        assert (await client.get(where, headers=read)).status_code == 200
        assert (await client.get(f"{where}/preview", headers=read)).status_code == 200
        for tail, body in (
            ("/versions", {"texts": {"en": {"email": FINE}}}),
            ("/request", None),
            ("/send", {}),
            ("/discard", None),
        ):
            error_of(await client.post(where + tail, json=body, headers=read), 403, "forbidden")
            error_of(await client.post(where + tail, json=body), 401, "unauthorized")
        error_of(await client.get(f"{API}/incidents/9/drafts", headers=read), 404, "not_found")
        error_of(await client.get(f"{DRAFTS}/999", headers=read), 404, "not_found")
    assert len(_rows(app, Notice)) == 0


async def test_create_edit_ask_and_send_with_a_second_key(app: FastAPI) -> None:
    alice, bob = issue_key(app, Scope.write, "alice"), issue_key(app, Scope.write, "bob")
    async with in_process(app) as client:
        draft = await _create(client, alice)
        assert (draft["state"], draft["version"], draft["created_by"]) == (
            "draft", 1, "api key alice",
        )  # fmt: skip
        (first,) = draft["versions"]
        assert first["texts"]["en"]["subject"] == "Correction: DNS down"
        assert first["texts"]["es"]["subject"] == "Corrección: DNS down"
        assert set(draft["findings"]) == {"es", "en"} and draft["blocked"] is False
        assert {f["rule"] for f in draft["findings"]["en"]["findings"]}
        where, mine = f"{DRAFTS}/{draft['id']}", {"X-API-Key": alice}

        bad = await client.post(f"{where}/versions", headers=mine,
                                json={"texts": {"en": {"email": "Hi {{ customer }}"}}})  # fmt: skip
        assert error_of(bad, 422, "validation_failed")["field"] == "en.email"
        assert "unknown field {{ customer }}" in bad.json()["error"]["message"]
        unknown = await client.post(f"{where}/versions", headers=mine,
                                    json={"texts": {"fr": {"email": "Bonjour"}}})  # fmt: skip
        assert error_of(unknown, 422, "validation_failed")["field"] == "texts.fr"

        saved = await client.post(
            f"{where}/versions", headers=mine,
            json={"texts": {"en": {"email": FINE}, "es": {"sms": "Corrección para {{ name }}."}}},
        )  # fmt: skip
        assert saved.status_code == 201, saved.text
        body = saved.json()
        assert [v["number"] for v in body["versions"]] == [1, 2]
        current = body["versions"][-1]["texts"]
        assert (
            current["en"]["email"] == FINE and current["es"]["sms"] == "Corrección para {{ name }}."
        )
        assert current["en"]["subject"] == "Correction: DNS down"  # what was not given is kept
        same = await client.post(f"{where}/versions", headers=mine,
                                 json={"texts": {"en": {"email": FINE}}})  # fmt: skip
        assert same.json()["version"] == 2  # unchanged: no version

        # the two-person rule: nobody asked yet, then the key that asked may not send
        nobody = await client.post(f"{where}/send", headers={"X-API-Key": bob}, json={})
        assert error_of(nobody, 409, "conflict")["field"] == "approval"
        asked = await client.post(f"{where}/request", headers=mine)
        assert asked.json()["requested_by"] == "api key alice"
        same_key = await client.post(f"{where}/send", headers=mine, json={})
        assert error_of(same_key, 409, "conflict")["field"] == "approval"
        assert "api key alice wrote or asked" in same_key.json()["error"]["message"]
        assert _rows(app, Notice) == []

        preview = await client.get(
            f"{where}/preview", params={"customer": "ana", "channel": "sms"}, headers=mine
        )
        shown = preview.json()
        assert (shown["customer"], shown["lang"], shown["channel"]) == ("ana", "es", "sms")
        assert shown["sms"]["text"] == "Corrección para Ana Ruiz."
        assert (shown["sms"]["segments"], shown["sms"]["encoding"]) == (1, "UCS-2")
        english = (
            await client.get(
                f"{where}/preview", params={"customer": "bob", "lang": "en"}, headers=mine
            )
        ).json()
        assert english["text"].startswith("Hello Bob Lee, the figure we gave about ")
        assert "Bob Lee" in english["html"] and "/u/c." in english["text"]
        assert english["subject"] == "Correction: DNS down" and english["voice"]
        nobody_such = await client.get(f"{where}/preview", params={"customer": "zed"}, headers=mine)
        assert error_of(nobody_such, 404, "not_found")["field"] == "customer"
        bad_channel = await client.get(f"{where}/preview", params={"channel": "fax"}, headers=mine)
        assert error_of(bad_channel, 422, "validation_failed")["field"] == "channel"

        sent = await client.post(f"{where}/send", headers={"X-API-Key": bob}, json={})
        assert sent.status_code == 200, sent.text
        out = sent.json()
        assert out["draft"]["state"] == "sent" and out["draft"]["approved_by"] == "api key bob"
        assert (out["deliveries"], out["overridden"]) == (3, [])  # Ana: e-mail, SMS; Bob: e-mail
        again = await client.post(f"{where}/send", headers={"X-API-Key": bob}, json={})
        assert "already sent" in error_of(again, 409, "conflict")["message"]
        late_edit = await client.post(f"{where}/versions", headers=mine,
                                      json={"texts": {"en": {"email": "x"}}})  # fmt: skip
        assert error_of(late_edit, 409, "conflict")["field"] == "state"
    (notice,) = _rows(app, Notice)
    assert str(notice.kind) == "draft"  # type: ignore[attr-defined]
    assert len(_rows(app, Delivery)) == 3
    logged = [(e.actor, e.action) for e in _rows(app, AuditEntry)]  # type: ignore[attr-defined]
    assert logged == [
        ("api key alice", "draft.create"),
        ("api key alice", "draft.edit"),
        ("api key alice", "draft.request"),
        ("api key bob", "draft.send"),
    ]


async def test_a_blocking_finding_needs_an_override_reason(settings: Settings) -> None:
    app = _app(settings)  # the two-person rule off: one key may write and send
    key = issue_key(app, Scope.write, "ops")
    mine = {"X-API-Key": key}
    try:
        async with in_process(app) as client:
            draft = await _create(client, key)
            where = f"{DRAFTS}/{draft['id']}"
            reason = {"override_reason": "Legal approved the wording"}
            needless = await client.post(f"{where}/send", headers=mine, json=reason)
            assert error_of(needless, 422, "validation_failed")["field"] == "reason"
            saved = await client.post(f"{where}/versions", headers=mine,
                                      json={"texts": {"en": {"email": BLOCKING}}})  # fmt: skip
            assert saved.json()["blocked"] is True
            assert saved.json()["findings"]["en"]["blocked"] is True
            refused = await client.post(f"{where}/send", headers=mine, json={})
            error = error_of(refused, 409, "conflict")
            assert error["field"] == "override" and "(N2)" in error["message"]
            assert (_rows(app, Notice), _rows(app, AuditOverride)) == ([], [])
            sent = await client.post(f"{where}/send", headers=mine, json=reason)
            assert sent.status_code == 200, sent.text
            assert sent.json()["overridden"] == ["en"]
            assert sent.json()["draft"]["override_reason"] == "Legal approved the wording"
        (override,) = _rows(app, AuditOverride)
        assert (override.who, override.locale) == ("api key ops", "en")  # type: ignore[attr-defined]
        (entry,) = [e for e in _rows(app, AuditEntry) if e.action == "draft.send"]  # type: ignore[attr-defined]
        assert "override (en): Legal approved the wording" in entry.detail  # type: ignore[attr-defined]
    finally:
        app.state.read_engine.dispose()
        app.state.engine.dispose()


async def test_bad_kinds_and_discarding(app: FastAPI) -> None:
    key = issue_key(app, Scope.write, "ops")
    mine = {"X-API-Key": key}
    async with in_process(app) as client:
        bad = await client.post(DRAFTS, json={"kind": "haiku"}, headers=mine)
        assert error_of(bad, 422, "validation_failed")["field"] == "kind"
        early = await client.post(DRAFTS, json={"kind": "resolution"}, headers=mine)
        error_of(early, 422, "validation_failed")  # not resolved yet: as the composer refuses
        draft = await _create(client, key, "update")
        where = f"{DRAFTS}/{draft['id']}"
        gone = await client.post(f"{where}/discard", headers=mine)
        assert gone.json()["state"] == "discarded"
        assert gone.json()["discarded_by"] == "api key ops"
        error_of(await client.post(f"{where}/discard", headers=mine), 409, "conflict")
        error_of(await client.post(f"{where}/send", headers=mine, json={}), 409, "conflict")
        other = f"{API}/incidents/2/drafts/{draft['id']}"
        error_of(await client.get(other, headers=mine), 404, "not_found")
    assert _rows(app, Notice) == []


async def test_the_openapi_document_names_the_scopes(app: FastAPI) -> None:
    async with in_process(app) as client:
        doc = (await client.get(f"{API}/openapi.json")).json()
    paths = doc["paths"]
    base = "/api/v1/incidents/{incident_id}/drafts"
    expected = {
        (base, "get"): "read",
        (base, "post"): "write",
        (base + "/{draft_id}", "get"): "read",
        (base + "/{draft_id}/versions", "post"): "write",
        (base + "/{draft_id}/request", "post"): "write",
        (base + "/{draft_id}/preview", "get"): "read",
        (base + "/{draft_id}/send", "post"): "write",
        (base + "/{draft_id}/discard", "post"): "write",
    }
    for (path, method), scope in expected.items():
        operation = paths[path][method]
        scopes = {
            s for requirement in operation["security"] for v in requirement.values() for s in v
        }
        assert scopes == {scope}, (path, method, operation["security"])
        assert "drafts" in operation["tags"] and operation["description"]
