"""Applications from EPGU through the real SMEV emulator: each one journaled, acknowledged and
answered exactly once; forged ones never become documents; rule failures get a refusal status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp

from adapters.gosuslugi.mapping import STATUS_CODES, Decision
from gateway.app.features import build_service
from gateway.features.epgu.intake import Intake
from gateway.store.tables import documents
from tests.support.epgu_stack import EpguStack

Stack = Callable[..., Awaitable[EpguStack]]
ACCEPTED = STATUS_CODES[Decision.accepted]
REFUSED = STATUS_CODES[Decision.refused]


async def test_each_application_is_journaled_acked_and_answered_once(epgu_stack: Stack, backend: str) -> None:
    stack = await epgu_stack(backend)
    sent = await stack.inject_for("luga", 6) + await stack.inject_for("omsk", 3) + await stack.inject_for("kirovsky", 3)
    mids = {s["message_id"] for s in sent}
    got = await stack.wait_statuses(len(sent))
    assert got["total"] == len(sent) and got["duplicates"] == 0 and got["valid_signatures"] == len(sent)
    assert {s["original_message_id"] for s in got["items"]} == mids
    assert {s["status_code"] for s in got["items"]} == {ACCEPTED}
    await stack.wait(lambda: _true(not list(stack.emulator.smev.queues.pending())), what="queue drained")
    assert stack.acks() == dict.fromkeys(mids, 1)
    docs = await stack.documents_of("consumer_application")
    assert len(docs) == len(sent)
    assert Counter(d["municipality"] for d in docs) == {"luga": 6, "omsk": 3, "kirovsky": 3}
    assert {d["created_by_org"] for d in docs} == {"epgu"} and {d["status"] for d in docs} == {"submitted"}
    origins = await stack.applications()
    assert {o["message_id"] for o in origins} == mids and {o["outcome"] for o in origins} == {"accepted"}
    assert {o["document_id"] for o in origins} == {d["id"] for d in docs}
    for event in ("submitted", "epgu_application_received", "epgu_status_queued", "epgu_status_delivered"):
        rows = await stack.events(event)
        assert Counter(r["document_id"] for r in rows) == dict.fromkeys((d["id"] for d in docs), 1), event
    submitted = await stack.events("submitted")
    assert {r["actor"] for r in submitted} == {"system:epgu"}


async def _true(value: bool) -> bool:
    return value


async def test_a_redelivered_application_has_no_second_effect(epgu_stack: Stack) -> None:
    """Committed before a crash, not acknowledged: the redelivery is only acknowledged."""
    stack = await epgu_stack(poller=False)
    (one,) = await stack.inject_for("luga", 1)
    from adapters.gosuslugi import mapping
    from gateway.systems.smev import build_client

    client = await build_client(stack.ctx.settings, stack.ctx.keys)
    try:
        request = await client.get_request(mapping.selector())
        assert request is not None and request.message_id == one["message_id"]
        intake = Intake(stack.ctx, build_service(stack.ctx))
        await intake.on_request(request)  # the effect commits; the "crash" comes before the Ack
        await intake.on_request(request)  # a second copy in this process changes nothing either
    finally:
        await client.close()
    stack.start_poller()  # a fresh process: SMEV redelivers the unacknowledged message
    got = await stack.wait_statuses(1)
    await stack.wait(lambda: _true(not list(stack.emulator.smev.queues.pending())), what="redelivery acknowledged")
    assert got["total"] == 1 and got["duplicates"] == 0
    assert stack.emulator.smev.queues.archive[one["message_id"]].deliveries == 2
    assert len(await stack.documents_of("consumer_application")) == 1
    assert len(await stack.events("epgu_status_queued")) == 1 and stack.acks() == {one["message_id"]: 1}


async def test_forged_applications_never_become_documents(epgu_stack: Stack) -> None:
    stack = await epgu_stack(poller=False)
    tampered, unsigned, good = await stack.inject_for("luga", 3)
    queued = stack.emulator.smev.queues.archive
    # after EPGU signed: content changed on the way (SMEV then signs what it got), or no sender signature at all
    data = queued[tampered["message_id"]].data
    assert tampered["order_id"].encode() in data
    queued[tampered["message_id"]].data = data.replace(tampered["order_id"].encode(), b"1" + tampered["order_id"].encode()[1:])
    queued[unsigned["message_id"]].signature = None
    stack.start_poller()
    await stack.wait(lambda: _true(not list(stack.emulator.smev.queues.pending())), what="all acknowledged")
    got = await stack.wait_statuses(1)
    assert [s["original_message_id"] for s in got["items"]] == [good["message_id"]]
    docs = await stack.documents_of("consumer_application")
    assert [d["number"] for d in docs] == [good["order_id"]]
    refused = await stack.events("epgu_application_refused")
    assert {r["details"]["smev_message_id"] for r in refused} == {tampered["message_id"], unsigned["message_id"]}
    assert all("sender_signature_invalid" in r["details"]["codes"] and r["document_id"] is None for r in refused)


async def test_an_application_broken_in_transit_is_used_only_when_it_arrives_intact(epgu_stack: Stack) -> None:
    stack = await epgu_stack(poller=False)
    (one,) = await stack.inject_for("omsk", 1)
    async with aiohttp.ClientSession() as s:  # the next signed answer (the GetRequest's) is broken on the way
        await s.post(stack.emulator.url + "/_emulator/smev/corrupt", json={"mode": "content", "count": 1})
    stack.start_poller()
    got = await stack.wait_statuses(1)
    assert got["total"] == 1 and got["duplicates"] == 0
    assert stack.emulator.smev.queues.archive[one["message_id"]].deliveries == 2  # the broken copy was not acked
    assert len(await stack.documents_of("consumer_application")) == 1


async def test_applications_failing_the_rules_are_refused_with_a_reason(epgu_stack: Stack) -> None:
    stack = await epgu_stack()
    no_consent = await stack.inject_for("luga", 1, consent=False)
    unknown_place = await stack.inject_for("luga", 1, oktmo="45000000")
    livny_combined = await stack.inject_for("livny", 1, certificate=True)
    other_code = await stack.inject_for("luga", 1, programme={"service_code": "804200О.99.0.ББ52АА01000", "programme_id": None})
    too_young = await stack.inject_for("omsk", 1, child={"birth_date": "2024-01-01"})
    sent = {x[0]["message_id"]: x[0] for x in (no_consent, unknown_place, livny_combined, other_code, too_young)}
    got = await stack.wait_statuses(len(sent))
    assert got["duplicates"] == 0 and got["valid_signatures"] == len(sent)
    by_mid = {s["original_message_id"]: s for s in got["items"]}
    assert set(by_mid) == set(sent) and {s["status_code"] for s in got["items"]} == {REFUSED}
    codes = {mid: s["parameters"].get("reasonCode") for mid, s in by_mid.items()}
    assert codes[unknown_place[0]["message_id"]] == "municipality_unresolved"
    assert codes[no_consent[0]["message_id"]] == "consent_required"
    assert codes[livny_combined[0]["message_id"]] == "request_kind_not_allowed"
    assert codes[other_code[0]["message_id"]] == "service_code_not_approved"
    assert codes[too_young[0]["message_id"]] == "child_age_out_of_range"
    assert all(s["description"].startswith("Отказ: ") and len(s["description"]) > 10 for s in got["items"])
    assert await stack.rows(documents) == []
    refused = await stack.events("epgu_application_refused")
    assert len(refused) == len(sent) and all(r["document_id"] is None for r in refused)
    assert {r["municipality"] for r in refused} == {"luga", "livny", "omsk", None}
    assert {o["outcome"] for o in await stack.applications()} == {"refused"}
    assert stack.acks() == dict.fromkeys(sent, 1)


async def test_no_personal_data_in_logs_journal_or_statuses(epgu_stack: Stack, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.DEBUG)
    stack = await epgu_stack()
    child = {"last_name": "Уникальнофамильев", "first_name": "Редкоимян", "snils": "112-233-445 95"}
    applicant = {"last_name": "Редкофамильева", "phone": "+79991234567"}
    await stack.inject_for("luga", 1, child=child, applicant=applicant)
    await stack.inject_for("luga", 1, child={**child, "birth_date": "2024-01-01"}, applicant=applicant)  # refused
    got = await stack.wait_statuses(2)
    journal = await stack.events("submitted", "epgu_application_received", "epgu_application_refused",
                                 "epgu_status_queued", "epgu_status_delivered")  # fmt: skip
    text = caplog.text + str(journal) + str([(s["description"], s["parameters"]) for s in got["items"]])
    for secret in ("Уникальнофамильев", "Редкоимян", "112-233-445", "Редкофамильева", "9991234567"):
        assert secret not in text
