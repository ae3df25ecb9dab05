"""Issue 6 Done-when and issue 7 job 3: a social order of each municipality goes submit → rules → sign →
Electronic Budget → published on the budget.gov.ru emulator, the journal showing every step and the
publication deadline closed; and Electronic Budget returning the order once for correction is survived.

Against the emulators over loopback HTTP, with the real transport; embedded queue on SQLite, and
RabbitMQ with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from signing.test_pki import TestPKI
from tests.support.gateway import Api
from tests.support.publishing_stack import BODY_ORG, profiles_with_kirovsky_mapping, publishing_stack

MUNICIPALITIES = ("leninogorsk", "luga", "livny", "kirovsky", "omsk")


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def tokens(api: Api, municipality: str) -> tuple[str, str]:
    """(the authorized body's token, the token of whoever submits to Electronic Budget)."""
    body = await api.token(municipality, BODY_ORG[municipality], "authorized_body")
    if municipality == "livny":  # it. 10: the finance department submits
        return body, await api.token("livny", "finance_department", "finance_department")
    return body, body


async def prepare(api: Api, municipality: str, body: str) -> str:
    """Submit (rules), approve, do the profile's steps, sign: ready to send."""
    status, accepted = await api.submit(body, "social_order", municipality, await api.example("social_order", municipality))
    assert status == 202, accepted
    doc_id = accepted["id"]
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    if municipality == "livny":
        assert (await api.act(body, doc_id, "forward_to_finance"))[0] == 200
        assert (await api.act(body, doc_id, "post_on_website"))[0] == 200
    status, doc = await api.act(body, doc_id, "sign")
    assert status == 200 and doc["status"] == "signed", doc
    return str(doc_id)


async def journal_events(api: Api, token: str, doc_id: str) -> list[str]:
    _, journal = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", token)
    return [e["event"] for e in journal["items"]]


def in_order(events: list[str], expected: list[str]) -> bool:
    it = iter(events)
    return all(any(e == x for e in it) for x in expected)


async def publication_deadline(api: Api, token: str, municipality: str, doc_id: str, status: str) -> dict[str, Any]:
    _, listing = await api.call("GET", f"/api/v1/deadlines?municipality={municipality}&status={status}", token)
    (deadline,) = [d for d in listing["items"] if d["document_id"] == doc_id and d["kind"] == "budget_portal_publication"]
    return dict(deadline)


@pytest.mark.parametrize("municipality", MUNICIPALITIES)
async def test_social_order_is_published_on_the_budget_portal(
    municipality: str, backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    profiles = profiles_with_kirovsky_mapping(tmp_path / "profiles")
    async with publishing_stack(backend, tmp_path, pki, aiohttp_client, municipalities_dir=profiles) as stack:
        api = stack.api
        body, submitter = await tokens(api, municipality)
        doc_id = await prepare(api, municipality, body)
        status, doc = await api.act(submitter, doc_id, "send")
        assert status == 200 and doc["status"] == "sent"
        opened = await publication_deadline(api, body, municipality, doc_id, "open")
        assert opened["started_on"] == "2026-11-23" and opened["due"] == "2026-12-07"  # 10 working days

        pub = await stack.wait_publication(body, doc_id, "published")
        (round_,) = pub["rounds"]
        regnum = pub["registration_number"]
        assert regnum and regnum.startswith("EB-") and round_["correction_of"] is None
        assert pub["document_status"] == "published" and pub["publish_date"] == round_["publish_date"]
        (record,) = await stack.portal_records("socialorders", regnum)
        assert record["documentnumber"] == doc["number"] and record["municipality"] == municipality
        assert record["publishdate"] == pub["publish_date"]

        _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", body)
        assert doc["status"] == "published"
        events = await journal_events(api, body, doc_id)
        assert in_order(events, ["submitted", "approved", "signed", "sent", "deadline_opened", "delivery_sent",
                                 "delivered", "eb_registered", "published", "deadline_met"]), events  # fmt: skip
        for once in ("sent", "delivered", "eb_registered", "published", "deadline_met"):
            assert events.count(once) == 1, (once, events)  # two trackers, one effect
        met = await publication_deadline(api, body, municipality, doc_id, "met")
        assert met["met_on"] == pub["publish_date"] and met["late"] is False
        assert pub["deadline"]["status"] == "met"
        if municipality == "livny":  # the 3 + 3 working-day steps were done in time
            _, listing = await api.call("GET", "/api/v1/deadlines?municipality=livny&status=met", body)
            steps = {d["kind"]: d for d in listing["items"] if d["document_id"] == doc_id}
            assert not steps["forward_to_finance"]["late"] and not steps["post_on_website"]["late"]
        (package,) = (await stack.emulator("GET", "electronic_budget", "/electronic_budget/packages"))["items"]
        assert package["status"] == "PUBLISHED" and package["registration_number"] == regnum
        assert package["municipality"] == municipality
        # Livny it. 10: the finance department submits (its key signs the package); elsewhere the body.
        submitter = "finance" if municipality == "livny" else "authorized_body"
        assert record["publisherinn"] == pki.certificate(submitter).innle


async def test_returned_for_correction_once_then_corrected_resubmitted_and_published(
    backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    """Issue 7's injected failure: Electronic Budget returns the order for correction once."""
    async with publishing_stack(backend, tmp_path, pki, aiohttp_client) as stack:
        api = stack.api
        body, finance = await tokens(api, "livny")
        await stack.emulator("POST", "electronic_budget", "/electronic_budget/return-next",
                             json={"count": 1, "reasons": [["VOLUME_MISMATCH", "Объёмы не соответствуют ассигнованиям"]]})  # fmt: skip
        doc_id = await prepare(api, "livny", body)
        assert (await api.act(finance, doc_id, "send"))[0] == 200

        pub = await stack.wait_publication(body, doc_id, "returned")
        assert pub["document_status"] == "returned"
        assert pub["reasons"] == [{"code": "VOLUME_MISMATCH", "text": "Объёмы не соответствуют ассигнованиям"}]
        first_regnum = pub["registration_number"]
        _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", body)
        assert doc["status"] == "returned"
        assert (await api.act(finance, doc_id, "send"))[1]["code"] == "invalid_state"  # not as it was

        payload = dict(doc["payload"])
        status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", body, json={"payload": payload})
        assert status == 422 and problem["code"] == "correction_unchanged"
        services = [dict(s) for s in payload["services"]]
        services[0]["volumes"] = [dict(v, value=str(float(v["value"]) + 100)) for v in services[0]["volumes"]]
        corrected = {**payload, "services": services}
        status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", body,
                                         json={"payload": {**corrected, "number": "ДРУГОЙ-1"}})  # fmt: skip
        assert status == 422 and problem["code"] == "correction_number_changed"
        status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", body,
                                         json={"payload": {**corrected, "year": payload["year"] + 1}})  # fmt: skip
        assert status == 422 and problem["code"] == "correction_year_changed"
        status, problem = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", finance,
                                         json={"payload": corrected})  # fmt: skip
        assert status == 403 and problem["code"] == "action_forbidden"  # the approving body corrects
        status, answer = await api.call("POST", f"/api/v1/publications/{doc_id}/correction", body,
                                        json={"payload": corrected, "comment": "объёмы приведены к ассигнованиям"})  # fmt: skip
        assert status == 200, answer
        assert answer["document"]["status"] == "approved"
        _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
        assert sigs["items"] == []  # the old signature covered the returned content; it is archived
        assert (await api.act(finance, doc_id, "send"))[1]["code"] == "signature_required"
        assert (await api.act(body, doc_id, "sign"))[0] == 200
        status, doc = await api.act(finance, doc_id, "send")
        assert status == 200 and doc["status"] == "sent"

        pub = await stack.wait_publication(body, doc_id, "published")
        first, second = pub["rounds"]
        assert first["state"] == "returned" and first["corrected"] is True
        assert second["correction_of"] == first_regnum and second["registration_number"] != first_regnum
        assert second["message_id"] != first["message_id"]
        assert pub["document_status"] == "published" and pub["reasons"] == []
        packages = (await stack.emulator("GET", "electronic_budget", "/electronic_budget/packages"))["items"]
        assert [p["status"] for p in packages] == ["RETURNED", "PUBLISHED"]
        assert packages[1]["correction_of"] == first_regnum
        (record,) = await stack.portal_records("socialorders", second["registration_number"])
        assert record["documentnumber"] == doc["number"]

        events = await journal_events(api, body, doc_id)
        assert in_order(events, ["sent", "deadline_opened", "delivered", "eb_registered", "returned_for_correction",
                                 "corrected", "approved", "signed", "sent", "resubmitted", "delivered",
                                 "eb_registered", "published", "deadline_met"]), events  # fmt: skip
        assert events.count("deadline_opened") == 3  # forwarding, website, publication: not restarted
        assert events.count("returned_for_correction") == 1 and events.count("published") == 1
        met = await publication_deadline(api, body, "livny", doc_id, "met")
        assert met["started_on"] == "2026-11-23" and met["met_on"] == pub["publish_date"]


async def test_execution_report_is_published_despite_faults_on_the_way(
    backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    """D2 goes the same way into its own registry; Electronic Budget drops the first connections and
    budget.gov.ru answers 503 three times: the delivery is retried, the tracker tries again next pass."""
    async with publishing_stack(backend, tmp_path, pki, aiohttp_client) as stack:
        api = stack.api
        body = await api.token("luga", "administration", "authorized_body")
        await stack.emulator("POST", "electronic_budget", "/faults", json={"reset": True, "count": 2})
        await stack.emulator("POST", "budget_portal", "/faults", json={"status": 503, "count": 3})
        status, accepted = await api.submit(body, "order_execution_report", "luga",
                                            await api.example("order_execution_report", "luga"))  # fmt: skip
        assert status == 202, accepted
        doc_id = accepted["id"]
        assert (await api.act(body, doc_id, "approve"))[0] == 200
        assert (await api.act(body, doc_id, "send"))[0] == 200
        pub = await stack.wait_publication(body, doc_id, "published")
        (round_,) = pub["rounds"]
        assert round_["publication"]["registry"] == "socialorderreports"
        assert await stack.portal_records("socialorderreports", pub["registration_number"])
        assert await stack.portal_records("socialorders", pub["registration_number"]) == []
        events = await journal_events(api, body, doc_id)
        assert events.count("published") == 1 and events.count("deadline_met") == 1 and events.count("delivered") == 1
        faults = await stack.emulator("GET", "budget_portal", "/faults")
        assert faults["count"] == 0  # the portal's 503s were all met by the tracker


async def test_cli_track_pass_publishes(tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    """``gateway publications track``: one tracker pass from the command line (no tracker in the process)."""
    async with publishing_stack("embedded", tmp_path, pki, aiohttp_client, trackers=0) as stack:
        api = stack.api
        body, _ = await tokens(api, "omsk")
        doc_id = await prepare(api, "omsk", body)
        assert (await api.act(body, doc_id, "send"))[0] == 200
        settings = api.ctx.settings
        env = {**os.environ, "GATEWAY_DATA_DIR": str(settings.data_dir), "GATEWAY_DATABASE_URL": settings.effective_database_url,
               "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL": settings.systems.electronic_budget.base_url,
               "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL": settings.systems.budget_portal.base_url}  # fmt: skip
        outputs = []
        for _ in range(10):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "publications", "track", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _err = await proc.communicate()
            assert proc.returncode == 0, _err.decode()
            outputs.append(out.decode())
            if "опубликовано: 1" in outputs[-1]:
                break
            await asyncio.sleep(0.3)
        assert "опубликовано: 1" in outputs[-1], outputs
        _, pub = await api.call("GET", f"/api/v1/publications/{doc_id}", body)
        assert pub["state"] == "published" and pub["deadline"]["status"] == "met"
