"""The GetRequest poller against the emulator: callback once each, Ack only after it, redelivery, duplicates."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.base import TransientError
from adapters.gosuslugi import IncomingRequest, RequestPoller, mapping
from tests.support.smev import Emulator, MakeClient


async def inject(emulator: Emulator, count: int, version: str = "1.3") -> list[str]:
    async with aiohttp.ClientSession() as s:
        r = await s.post(emulator.url + "/_emulator/epgu/applications", json={"count": count, "version": version})
        assert r.status == 200
        return [i["message_id"] for i in (await r.json())["sent"]]


async def wait_for(predicate, limit_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` (state of the emulator, which has no event to wait on)."""
    async with asyncio.timeout(limit_s):
        for _ in iter(int, 1):
            if predicate():
                return
            await asyncio.sleep(0.01)


async def test_each_application_once_and_ack_after_the_callback(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    sent = await inject(emulator, 8)
    seen: list[str] = []
    pending_during_callback: list[bool] = []

    async def on_request(req: IncomingRequest) -> None:
        # the message is still queued in SMEV (not acked) while the callback commits
        pending_during_callback.append(any(m.message_id == req.message_id for m in emulator.smev.queues.pending()))
        mapping.parse_application(req.content)
        seen.append(req.message_id)

    poller = RequestPoller(smev, on_request)
    poller.start()
    await wait_for(lambda: len(seen) == 8 and not list(emulator.smev.queues.pending()))
    await poller.aclose()
    assert sorted(seen) == sorted(sent) and all(pending_during_callback)
    acks = {k: r.count for k, r in emulator.smev.control.received.items() if r.kind == "Ack"}
    assert acks == {f"ack:{m}": 1 for m in sent}


async def test_failing_callback_means_no_ack_and_redelivery(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.1")
    (mid,) = await inject(emulator, 1, "1.1")
    calls: list[str] = []

    async def on_request(req: IncomingRequest) -> None:
        calls.append(req.message_id)
        if len(calls) == 1:
            raise RuntimeError("database is down")

    poller = RequestPoller(smev, on_request)
    poller.start()
    await wait_for(lambda: len(calls) == 2 and not list(emulator.smev.queues.pending()))
    await poller.aclose()
    assert calls == [mid, mid] and poller.handled == 1
    assert emulator.smev.queues.archive[mid].deliveries == 2


async def test_duplicate_delivery_does_not_rerun_the_callback(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    (mid,) = await inject(emulator, 1)
    calls: list[str] = []
    real_ack = smev.ack
    ack_attempts = 0

    async def flaky_ack(message_id: str, accepted: bool = True) -> None:
        nonlocal ack_attempts
        ack_attempts += 1
        if ack_attempts == 1:
            raise TransientError("smev_timeout", "СМЭВ не ответил вовремя")  # effect committed, Ack lost
        await real_ack(message_id, accepted)

    smev.ack = flaky_ack  # type: ignore[method-assign]

    async def on_request(req: IncomingRequest) -> None:
        calls.append(req.message_id)

    poller = RequestPoller(smev, on_request)
    poller.start()
    await wait_for(lambda: not list(emulator.smev.queues.pending()))
    await poller.aclose()
    assert calls == [mid] and ack_attempts == 2 and emulator.smev.queues.archive[mid].deliveries == 2


async def test_inbox_hook_prevents_rerun_after_restart(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    (mid,) = await inject(emulator, 1)
    calls: list[str] = []

    async def is_handled(message_id: str) -> bool:
        return message_id == mid  # the gateway's inbox already has it (committed before a crash)

    async def on_request(req: IncomingRequest) -> None:
        calls.append(req.message_id)

    poller = RequestPoller(smev, on_request, is_handled=is_handled)
    assert await poller.poll_once() == 1
    assert calls == [] and not list(emulator.smev.queues.pending())


async def test_poller_survives_smev_errors_and_stops_cleanly(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    await inject(emulator, 2)
    async with aiohttp.ClientSession() as s:
        await s.post(emulator.url + "/_emulator/faults", json={"status": 503, "count": 3})
    seen: list[str] = []

    async def on_request(req: IncomingRequest) -> None:
        seen.append(req.message_id)

    poller = RequestPoller(smev, on_request)
    task = poller.start()
    await wait_for(lambda: len(seen) == 2)
    assert poller.errors >= 3
    await poller.aclose(grace_s=2)
    assert task.done() and not task.cancelled()


async def test_no_personal_data_in_logs(emulator: Emulator, make_client: MakeClient, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from emulators.smev3 import epgu

    caplog.set_level(logging.DEBUG)
    smev = await make_client("1.3")
    await inject(emulator, 3)
    payloads: list[dict] = []  # type: ignore[type-arg]

    async def on_request(req: IncomingRequest) -> None:
        payloads.append(mapping.parse_application(req.content).payload)
        raise RuntimeError("fails once, to log the failure path too")

    poller = RequestPoller(smev, on_request)
    await poller.poll_once()
    await smev.send_status(emulator.smev.queues.archive[next(iter(emulator.smev.epgu.sent))].reply_to or "",
                           mapping.status_response("refused", reason="Нет мест"))  # fmt: skip
    text = caplog.text
    assert payloads and "smev" in text
    names = {n for pair in epgu._SURNAMES for n in pair} | {n for n, _ in epgu._BOYS + epgu._GIRLS}
    for p in payloads:
        assert p["child"]["snils"] not in text and p["applicant"]["phone"] not in text
    assert not any(n in text for n in names)


async def test_an_empty_poll_is_logged_only_at_debug(emulator: Emulator, make_client: MakeClient, caplog) -> None:  # type: ignore[no-untyped-def]
    """A poll runs every few seconds: at INFO the log would be nothing but polls."""
    import logging

    smev = await make_client("1.3")
    poller = RequestPoller(smev, lambda req: asyncio.sleep(0))
    caplog.set_level(logging.INFO, logger="adapters.gosuslugi")
    assert await poller.poll_once() == 0
    assert not [r for r in caplog.records if "smev GetRequest" in r.getMessage()]
    caplog.set_level(logging.DEBUG, logger="adapters.gosuslugi")
    await poller.poll_once()
    assert [r for r in caplog.records if "smev GetRequest" in r.getMessage() and r.levelno == logging.DEBUG]
