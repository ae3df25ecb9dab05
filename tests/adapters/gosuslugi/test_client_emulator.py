"""Adapter ↔ emulator over real HTTP on loopback, with real GOST signatures, on schemas 1.1 and 1.3."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from lxml import etree

from adapters.base import Attachment, PermanentError, TransientError
from adapters.gosuslugi import envelope, faults, mapping
from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.messages import Trust
from signing.test_pki import TestPKI
from tests.support.smev import Emulator, MakeClient

VERSIONS = ["1.1", "1.3"]
TEST_NS = "urn://x-social-order-gateway/test/echo/1.0"


def echo(text: str = "привет") -> bytes:
    return f'<e:EchoRequest xmlns:e="{TEST_NS}"><e:text>{text}</e:text></e:EchoRequest>'.encode()


def route_to_self(emulator: Emulator, root: str = "EchoRequest") -> None:
    emulator.smev.routes[(TEST_NS, root)] = emulator.smev.settings.gateway_mnemonic


async def control(emulator: Emulator, method: str, path: str, **kw: object) -> object:
    async with aiohttp.ClientSession() as s, s.request(method, emulator.url + path, **kw) as r:  # type: ignore[arg-type]
        assert r.status < 300, await r.text()
        return await r.json()


@pytest.mark.parametrize("version", VERSIONS)
async def test_send_get_respond_ack_round_trip(version: str, emulator: Emulator, make_client: MakeClient) -> None:
    route_to_self(emulator)
    smev = await make_client(version)
    sent = await smev.send_request(echo(), transaction_code="T-1")
    assert sent.metadata.status == "requestIsQueued" and uuid.UUID(sent.message_id).version == 1
    got = await smev.get_request(envelope.MessageTypeSelector(TEST_NS, "EchoRequest"))
    assert got is not None and got.message_id == sent.message_id and got.sender_signature and got.sender_signature.ok
    assert etree.fromstring(got.content).findtext(f"{{{TEST_NS}}}text") == "привет"
    assert got.transaction_code == "T-1" and got.reply_to
    await smev.ack(got.message_id)
    assert await smev.get_request(envelope.MessageTypeSelector(TEST_NS, "EchoRequest")) is None
    answer = f'<e:EchoResponse xmlns:e="{TEST_NS}"><e:text>ответ</e:text></e:EchoResponse>'.encode()
    reply = await smev.send_response(got.reply_to, content=answer)
    assert reply.metadata.status == "responseIsAcceptedBySmev"
    response = await smev.get_response()
    assert response is not None and response.kind == "content" and response.original_message_id == sent.message_id
    assert response.content is not None and b"EchoResponse" in response.content
    await smev.ack(response.message_id)
    assert await smev.get_response() is None
    with pytest.raises(PermanentError) as e:
        await smev.ack(response.message_id)
    assert e.value.code == "smev_ack_target_not_found"


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_and_rejection_responses(version: str, emulator: Emulator, make_client: MakeClient) -> None:
    route_to_self(emulator)
    smev = await make_client(version)
    await smev.send_request(echo())
    await smev.send_request(echo())
    first = await smev.get_request()
    second = await smev.get_request()
    assert first and second and first.reply_to and second.reply_to
    await smev.send_status(first.reply_to, envelope.RequestStatus(2, "Принято", {"decision": "accepted"}))
    await smev.send_response(second.reply_to, rejections=[envelope.Rejection("NO_DATA", "Нет данных")])
    kinds = {}
    for _ in range(2):
        r = await smev.get_response()
        assert r is not None
        kinds[r.kind] = r
        await smev.ack(r.message_id)
    assert kinds["status"].status == envelope.RequestStatus(2, "Принято", {"decision": "accepted"})
    assert kinds["rejected"].rejections == (("NO_DATA", "Нет данных"),)


@pytest.mark.parametrize("version", VERSIONS)
async def test_epgu_application_and_status_back(version: str, emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client(version)
    body = await control(emulator, "POST", "/_emulator/epgu/applications", json={"count": 1, "version": version})
    (sent,) = body["sent"]  # type: ignore[index]
    got = await smev.get_request(mapping.selector())
    assert got is not None and got.message_id == sent["message_id"] and got.metadata.sender == "EPGU_EMU"
    app = mapping.parse_application(got.content)
    assert app.order_id == sent["order_id"]
    await smev.send_status(got.reply_to or "", mapping.status_response("certificate_issued", certificate_number="0000000042"))
    await smev.ack(got.message_id)
    statuses = await control(emulator, "GET", "/_emulator/epgu/statuses")
    (item,) = statuses["items"]  # type: ignore[index]
    assert item["status_code"] == 10 and item["parameters"]["certificateNumber"] == "0000000042"
    assert item["signature"]["ok"] and item["order_id"] == sent["order_id"] and statuses["duplicates"] == 0  # type: ignore[index]


# --- the emulator refuses, the adapter maps --------------------------------------------------


def _signed_send(smev_version: str, signer: object, mid: str | None = None) -> bytes:
    v = envelope.version(smev_version)
    return envelope.sign(envelope.send_request(v, mid or envelope.new_message_id(), echo()), signer)  # type: ignore[arg-type]


async def _refusal(smev: object, body: bytes) -> PermanentError:
    with pytest.raises(PermanentError) as e:
        await smev.exchange("SendRequest", body)  # type: ignore[attr-defined]
    return e.value


@pytest.mark.parametrize("version", VERSIONS)
async def test_refusals_map_to_permanent_errors(
    version: str, emulator: Emulator, make_client: MakeClient, smev_pki: TestPKI, stranger_pki: TestPKI
) -> None:
    route_to_self(emulator)
    smev = await make_client(version)
    v = envelope.version(version)
    unsigned = envelope.unsigned(envelope.send_request(v, envelope.new_message_id(), echo()))
    assert (await _refusal(smev, unsigned)).code == "smev_signature_missing"
    assert (await _refusal(smev, _signed_send(version, stranger_pki.signer("gateway")))).code == "smev_certificate_unknown"
    assert (await _refusal(smev, _signed_send(version, smev_pki.signer("expired")))).code == "smev_certificate_expired"
    revoked = await _refusal(smev, _signed_send(version, smev_pki.signer("revoked")))
    assert revoked.code == "smev_signature_invalid" and "SMEV-100" in revoked.detail
    tampered = _signed_send(version, smev_pki.signer("gateway")).replace("привет".encode(), "пока".encode())
    assert (await _refusal(smev, tampered)).code == "smev_signature_invalid"
    mid = envelope.new_message_id()
    await smev.exchange("SendRequest", _signed_send(version, smev_pki.signer("gateway"), mid))
    assert (await _refusal(smev, _signed_send(version, smev_pki.signer("gateway"), mid))).code == "smev_message_already_sent"
    old = str(uuid.uuid1(node=1, clock_seq=1))
    u = uuid.UUID(old)
    stale_time = u.time - int(3 * 86400 * 1e7)
    stale = str(uuid.UUID(fields=(stale_time & 0xFFFFFFFF, (stale_time >> 32) & 0xFFFF, (stale_time >> 48) & 0x0FFF | 0x1000,
                                  u.clock_seq_hi_variant, u.clock_seq_low, u.node)))  # fmt: skip
    assert (await _refusal(smev, _signed_send(version, smev_pki.signer("gateway"), stale))).code == "smev_stale_message_id"
    assert (await _refusal(smev, _signed_send(version, smev_pki.signer("gateway"), str(uuid.uuid4())))).code == "smev_invalid_message_id"
    with pytest.raises(PermanentError) as e:
        await smev.send_request(f'<x:Unknown xmlns:x="{TEST_NS}"/>'.encode())
    assert e.value.code == "smev_unsupported_type"
    received = await control(emulator, "GET", "/_emulator/received")
    assert received["items"] and any(i["message_id"] == mid and i["count"] == 2 for i in received["items"])  # type: ignore[index]


async def test_async_rejection_of_business_content(emulator: Emulator, make_client: MakeClient) -> None:
    """Content failing its registered schema is queued, then rejected asynchronously (SMEV-403)."""
    emulator.smev.routes[(mapping.NAMESPACE, mapping.ROOT_ELEMENT)] = "OTHER"
    smev = await make_client("1.3")
    bad = f'<a:ApplicationRequest xmlns:a="{mapping.NAMESPACE}"><a:orderId>x</a:orderId></a:ApplicationRequest>'.encode()
    sent = await smev.send_request(bad)
    response = await smev.get_response()
    assert response is not None and response.kind == "async_status" and response.async_status is not None
    status = response.async_status
    assert status.category == "requestIsRejectedBySmev" and status.original_message_id == sent.message_id
    assert status.fault_kind == "InvalidContent"
    error = faults.async_rejection_error(status.category, status.fault_kind, status.fault_description)
    assert isinstance(error, PermanentError) and error.code == "smev_rejected_async" and "SMEV-403" in error.detail
    await smev.ack(response.message_id)
    polled = await smev.get_status()
    assert polled is not None and polled.category == "requestIsRejectedBySmev"
    assert await smev.get_status() is None


# --- transient faults, and recovery ---------------------------------------------------------


async def test_transient_faults_then_recovery(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3", timeout_s=0.3)
    cases = [
        ({"status": 503, "count": 1}, "smev_http_503"),
        ({"status": 502, "count": 1}, "smev_http_502"),
        ({"reset": True, "count": 1}, "smev_unreachable"),
        ({"latency_ms": 800, "count": 1}, "smev_timeout"),
        ({"malformed": True, "count": 1}, "smev_malformed_reply"),
        ({"rate_limit_per_s": 1}, "smev_http_429"),
    ]
    for fault, code in cases:
        await control(emulator, "POST", "/_emulator/faults", json=fault)
        if "rate_limit_per_s" in fault:
            await smev.get_request()  # the one allowed this second
        with pytest.raises(TransientError) as e:
            await smev.get_request()
        assert e.value.code == code, fault
        await control(emulator, "DELETE", "/_emulator/faults")
        assert await smev.get_request() is None  # recovered
    await control(emulator, "POST", "/_emulator/faults", json={"unavailable_for_s": 0.4})
    with pytest.raises(TransientError):
        await smev.get_request()
    await asyncio.sleep(0.5)
    assert await smev.get_request() is None


@pytest.mark.parametrize("mode", ["signature", "content"])
async def test_broken_smev_signature_is_rejected_then_redelivered(mode: str, emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    await control(emulator, "POST", "/_emulator/epgu/applications", json={"count": 1})
    await control(emulator, "POST", "/_emulator/smev/corrupt", json={"mode": mode, "count": 1})
    with pytest.raises(SmevSignatureError) as e:
        await smev.get_request(mapping.selector())
    assert e.value.code == "smev_signature_invalid"
    await asyncio.sleep(0.35)  # not acked: visible again after the emulator's redelivery delay
    got = await smev.get_request(mapping.selector())
    assert got is not None
    await smev.ack(got.message_id)


async def test_reply_signed_by_an_untrusted_smev_is_rejected(emulator: Emulator, make_client: MakeClient, stranger_pki: TestPKI) -> None:
    route_to_self(emulator)
    smev = await make_client("1.3")
    smev.trust = Trust([stranger_pki.ca.certificate])
    with pytest.raises(SmevSignatureError):
        await smev.send_request(echo())


async def test_mtom_replies_are_understood(emulator: Emulator, make_client: MakeClient) -> None:
    emulator.smev.settings.mtom_replies = True
    smev = await make_client("1.3")
    assert await smev.get_request() is None
    await control(emulator, "POST", "/_emulator/epgu/applications", json={"count": 1})
    got = await smev.get_request()
    assert got is not None
    await smev.ack(got.message_id)


@pytest.mark.parametrize("version", VERSIONS)
async def test_attachments_mtom_and_file_store(version: str, emulator: Emulator, make_client: MakeClient) -> None:
    route_to_self(emulator)
    smev = await make_client(version, mtom_threshold_bytes=1024)
    small = Attachment("scan.pdf", b"%PDF-1.4 small" * 10, "application/pdf")
    large = Attachment("archive.zip", bytes(range(256)) * 40, "application/zip")
    await smev.send_request(echo(), attachments=[small, large])
    got = await smev.get_request()
    assert got is not None
    by_ref = {a.by_reference: a for a in got.attachments}
    assert by_ref[False].content == small.content and by_ref[False].signature_ok is True
    assert by_ref[True].content is None and got.fs_attachments
    data = await smev.fetch_attachment(got.fs_attachments[0], by_ref[True])
    assert data == large.content
    await smev.ack(got.message_id)


async def test_expired_eol_and_wrong_version_namespace(emulator: Emulator, make_client: MakeClient, smev_pki: TestPKI) -> None:
    """A 1.1 envelope sent to the 1.3 endpoint is refused as invalid content (permanent)."""
    route_to_self(emulator)
    smev = await make_client("1.3")
    with pytest.raises(PermanentError) as e:
        await smev.exchange("SendRequest", _signed_send("1.1", smev_pki.signer("gateway")))
    assert e.value.code == "smev_invalid_content"
    eol = datetime.now(UTC) + timedelta(days=1)
    assert (await smev.send_request(echo(), eol=eol)).message_id
    assert base64.b64decode((await smev.get_request()).reply_to or "")  # type: ignore[union-attr]
