"""Publishing rules that need no external system: the publication deadline (scenario 10), the
publication resource and list, who may correct what, and a returned order staying the approved one.

Through the API, on SQLite and on PostgreSQL (the transport is not started: ``send`` writes the
outbox and the deliveries, which is where these rules act).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.core.settings import PACKAGE_DATA
from gateway.municipalities import ProfileError, load_profiles
from gateway.workflow.state import transition
from tests.support.gateway import Api, set_today

BODY = {"leninogorsk": "executive_committee", "luga": "administration", "omsk": "education_department"}


async def sent_order(api: Api, municipality: str) -> tuple[str, str]:
    token = await api.token(municipality, BODY[municipality], "authorized_body")
    status, accepted = await api.submit(token, "social_order", municipality, await api.example("social_order", municipality))
    assert status == 202
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    status, doc = await api.act(token, accepted["id"], "send")
    assert status == 200, doc
    return token, str(accepted["id"])


async def test_s10_publication_deadline_opens_at_submission_and_goes_overdue(api: Api) -> None:
    set_today(api.ctx, dt.date(2026, 12, 25))  # Friday; 1–8 January are days off
    token, doc_id = await sent_order(api, "luga")
    _, listing = await api.call("GET", "/api/v1/deadlines?municipality=luga", token)
    (deadline,) = [d for d in listing["items"] if d["document_id"] == doc_id]
    assert deadline["kind"] == "budget_portal_publication" and deadline["status"] == "open"
    assert deadline["started_on"] == "2026-12-25" and deadline["due"] == "2027-01-19"  # 10 working days (31 Dec and 1–8 Jan off)
    assert "243н" in deadline["source"]
    set_today(api.ctx, dt.date(2027, 1, 20))
    _, listing = await api.call("GET", "/api/v1/deadlines?municipality=luga&status=overdue", token)
    assert [d["kind"] for d in listing["items"] if d["document_id"] == doc_id] == ["budget_portal_publication"]
    _, pub = await api.call("GET", f"/api/v1/publications/{doc_id}", token)
    assert pub["state"] == "submitted" and pub["deadline"]["status"] == "overdue"
    (round_,) = pub["rounds"]
    assert round_["revision"] == 0 and round_["registration_number"] is None and round_["submitted_on"] == "2026-12-25"


async def test_publication_resource_before_submission_and_listing(api: Api) -> None:
    token = await api.token("leninogorsk", BODY["leninogorsk"], "authorized_body")
    _, accepted = await api.submit(token, "social_order", "leninogorsk", await api.example("social_order", "leninogorsk"))
    status, pub = await api.call("GET", f"/api/v1/publications/{accepted['id']}", token)
    assert status == 200 and pub["state"] == "not_submitted" and pub["rounds"] == [] and pub["deadline"] is None
    _, sent_id = await sent_order(api, "leninogorsk")
    status, listing = await api.call("GET", "/api/v1/publications?state=submitted", token)
    assert status == 200 and [i["document_id"] for i in listing["items"]] == [sent_id]
    assert (await api.call("GET", "/api/v1/publications?state=published", token))[1]["items"] == []
    status, problem = await api.call("GET", "/api/v1/publications?state=lost", token)
    assert status == 400 and problem["code"] == "invalid_query"
    provider = await api.token("leninogorsk", "Пример", "provider", "7707083893")
    assert (await api.call("GET", "/api/v1/publications", provider))[0] == 403
    other = await api.token("luga", "administration", "authorized_body")
    assert (await api.call("GET", f"/api/v1/publications/{sent_id}", other))[0] == 404
    assert (await api.call("GET", "/api/v1/publications?municipality=leninogorsk", other))[0] == 403


async def test_only_documents_published_through_electronic_budget_are_tracked(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    provider = await api.token("luga", "Пример", "provider", "7707083893")
    _, accepted = await api.submit(provider, "provider_registry_application", "luga",
                                   api.own(provider, "provider_registry_application", await api.example("provider_registry_application", "luga")))  # fmt: skip
    status, problem = await api.call("GET", f"/api/v1/publications/{accepted['id']}", token)
    assert status == 404 and problem["code"] == "publication_not_tracked"
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    assert (await api.act(token, accepted["id"], "send"))[0] == 200  # to the Navigator: no publication round
    _, listing = await api.call("GET", "/api/v1/deadlines?municipality=luga&status=open,overdue,met", token)
    assert not [d for d in listing["items"] if d["document_id"] == accepted["id"]]


async def test_correction_is_refused_unless_returned_and_by_the_approving_body(api: Api) -> None:
    education, doc_id = await sent_order(api, "omsk")
    youth = await api.token("omsk", "youth_sports_department", "authorized_body")
    _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", education)
    body = {"payload": doc["payload"]}
    status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", youth, json=body)
    assert status == 403 and problem["code"] == "action_forbidden"  # it. 2: only the education department approves
    status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", education, json=body)
    assert status == 409 and problem["code"] == "invalid_state"  # Electronic Budget has not returned it
    status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", education, json={})
    assert status == 422
    status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", education,
                                     json={"payload": doc["payload"], "extra": 1})  # fmt: skip
    assert status in (400, 422)
    _, after = await api.call("GET", f"/api/v1/documents/{doc_id}", education)
    assert after["status"] == "sent" and after["payload"] == doc["payload"]  # nothing changed on refusal


async def test_a_returned_order_stays_the_approved_order_of_its_year(api: Api) -> None:
    """The annual deadline (scenario 12) keeps the order's approval while Electronic Budget has it back for
    correction; the cycle is met only once the order is also placed on the portal (000 plan 4.1)."""
    token, doc_id = await sent_order(api, "leninogorsk")
    async with api.ctx.db.write() as conn:
        assert await transition(conn, doc_id, allowed_from=("sent",), to="returned", event="returned_for_correction",
                                actor="test", municipality="leninogorsk", details={})  # fmt: skip
    _, listing = await api.call("GET", "/api/v1/deadlines?municipality=leninogorsk&status=open,met", token)
    (cycle,) = [d for d in listing["items"] if d["kind"] == "annual_social_order" and d["order_year"] == 2027]
    assert cycle["approved_on"] == "2026-11-23" and cycle["placed_on"] is None and cycle["status"] == "open"


def test_profile_publication_rule_names_known_document_types(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(PACKAGE_DATA / "municipalities", tmp_path / "m")
    path = tmp_path / "m" / "luga.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\npublication: {document_types: [social_ordr], working_days: 5, title: t, source: s}\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="social_ordr"):
        load_profiles(tmp_path / "m")
