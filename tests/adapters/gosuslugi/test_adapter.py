"""GosuslugiAdapter.deliver: a decision goes back to EPGU once, also when the receipt was lost."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.base import Outgoing, PermanentError
from adapters.gosuslugi import mapping, new_message_id
from adapters.gosuslugi.adapter import GosuslugiAdapter
from tests.support.smev import Emulator, MakeClient


def outgoing(reply_to: str, mid: str | None, decision: str = "refused") -> Outgoing:
    meta = {"reply_to": reply_to} | ({"smev_message_id": mid} if mid else {})
    return Outgoing(message_id="doc-1:gosuslugi", document_id="doc-1", doc_type="consumer_application", municipality="luga",
                    system="gosuslugi", xml=b"", payload={"decision": decision, "reason": "Нет свободных мест"}, metadata=meta)  # fmt: skip


async def test_deliver_once_even_when_retried(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    emulator.smev.inject("1.3", [], 1)
    request = await smev.get_request(mapping.selector())
    assert request is not None and request.reply_to
    adapter = GosuslugiAdapter(smev)
    mid = new_message_id()
    first = await adapter.deliver(outgoing(request.reply_to, mid))
    again = await adapter.deliver(outgoing(request.reply_to, mid))  # the receipt was "lost": same MessageID again
    assert first.external_id == mid and again.detail == {"duplicate": True}
    async with aiohttp.ClientSession() as s:
        statuses = await (await s.get(emulator.url + "/_emulator/epgu/statuses")).json()
    assert statuses["total"] == 1 and statuses["items"][0]["status_code"] == 4 and statuses["duplicates"] == 0
    with pytest.raises(PermanentError) as e:
        await adapter.deliver(outgoing("", None))
    assert e.value.code == "smev_reply_to_missing"
    with pytest.raises(PermanentError) as e:
        await adapter.deliver(outgoing(request.reply_to, None, decision="certificate_issued"))
    assert e.value.code == "smev_status_invalid"
