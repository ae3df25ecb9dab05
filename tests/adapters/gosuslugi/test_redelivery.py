"""A status sent again is the same SMEV message: its MessageID and its names come from the stored message."""

from __future__ import annotations

import datetime as dt
import uuid

import aiohttp

from adapters.base import Attachment, Outgoing
from adapters.gosuslugi import attachments, mapping
from adapters.gosuslugi.adapter import GosuslugiAdapter, smev_message_id
from adapters.gosuslugi.envelope import stable_message_id
from emulators.smev3.protocol import check_message_id
from signing.test_pki import TestPKI
from tests.support.smev import Emulator, MakeClient

GREGORIAN = dt.datetime(1582, 10, 15, tzinfo=dt.UTC)


def status(reply_to: str, message_id: str, **metadata: str) -> Outgoing:
    return Outgoing(message_id=message_id, document_id="doc-1", doc_type="epgu_status", municipality="luga",
                    system="epgu", xml=b"", payload={"decision": "accepted"}, metadata={"reply_to": reply_to, **metadata})  # fmt: skip


def test_the_derived_message_id_is_a_valid_uuid1_of_the_stored_time() -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=123456)
    mid = stable_message_id("message-a", at)
    u = uuid.UUID(mid)
    assert mid == str(u) and u.version == 1 and u.variant == uuid.RFC_4122
    assert u.node & 0x010000000000  # the multicast bit: not a network card's address
    assert abs(GREGORIAN + dt.timedelta(microseconds=u.time / 10) - at) < dt.timedelta(microseconds=1)
    assert check_message_id(mid) is None  # SMEV takes it: a fresh UUIDv1
    assert stable_message_id("message-a", at) == mid
    assert stable_message_id("message-b", at) != mid
    assert stable_message_id("message-a", at + dt.timedelta(microseconds=1)) != mid


def test_which_message_id_a_status_gets() -> None:
    stored = str(uuid.uuid1())
    assert smev_message_id(status("to", "m-1", smev_message_id=stored)) == stored
    sent_at = "2026-11-23T09:00:00.000000Z"
    derived = smev_message_id(status("to", "m-1", created_at=sent_at))
    assert derived == stable_message_id("m-1", dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC))
    assert smev_message_id(status("to", "m-1")) is None  # nothing stored: a fresh one (see the adapter's doc)


async def test_a_status_sent_again_without_a_stored_message_id_is_one_smev_message(
    emulator: Emulator, make_client: MakeClient
) -> None:
    smev = await make_client("1.3")
    emulator.smev.inject("1.3", [], 1)
    request = await smev.get_request(mapping.selector())
    assert request is not None and request.reply_to
    adapter = GosuslugiAdapter(smev)
    queued = status(request.reply_to, "app-1:epgu:status", created_at=dt.datetime.now(dt.UTC).isoformat())
    first = await adapter.deliver(queued)
    again = await adapter.deliver(queued)  # the worker died before recording the first
    assert again.detail == {"duplicate": True} and again.external_id == first.external_id
    async with aiohttp.ClientSession() as s:
        statuses = await (await s.get(emulator.url + "/_emulator/epgu/statuses")).json()
        bodies = await (await s.get(emulator.url + "/_emulator/bodies")).json()
    assert statuses["total"] == 1 and statuses["duplicates"] == 0
    (item,) = [i for i in bodies["items"] if i["id"] == first.external_id]
    assert item["seen"] == 2 and len(item["digests"]) == 1 and bodies["conflicts"] == []


async def test_attachments_are_named_by_their_content(smev_pki: TestPKI) -> None:
    files = [Attachment("a.pdf", b"%PDF-1 first", "application/pdf"), Attachment("b.pdf", b"%PDF-1 second", "application/pdf")]
    signer = smev_pki.signer("gateway")
    first, parts = await attachments.prepare(files, signer, threshold=1 << 20, file_store=None)
    again, _ = await attachments.prepare(files, signer, threshold=1 << 20, file_store=None)
    ids = [h.content_id for h in first.headers]
    assert ids == [h.content_id for h in again.headers] and len(set(ids)) == 2
    assert set(parts) == set(ids)
