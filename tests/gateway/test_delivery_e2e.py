"""Documents through the real transport to the real emulators: delivered once, journaled once,
dead letters listed and replayed, transient faults retried, backpressure answered with 429.

Runs on the embedded queue (SQLite) and on RabbitMQ with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulators import runner as emulators
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import Settings
from gateway.delivery.transport import GatewayTransport
from signing.test_pki import TestPKI
from tests.conftest import DEFAULT_NOW, Api, install_pki, pg_database

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
SYSTEM_EMULATORS = ("electronic_budget", "budget_portal", "navigator", "eais")


class Stack:
    def __init__(self, api: Api, transport: GatewayTransport, urls: dict[str, str]) -> None:
        self.api = api
        self.transport = transport
        self.urls = urls

    def control(self, name: str) -> str:
        base = self.urls[name].split("/", 3)
        return f"{base[0]}//{base[2]}/_emulator"

    async def emulator(self, method: str, name: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, self.control(name) + path, **kw) as r:
            return await r.json()

    async def wait_document(self, token: str, doc_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        try:
            async with asyncio.timeout(30):
                while True:
                    _, doc = await self.api.call("GET", f"/api/v1/documents/{doc_id}", token)
                    if done(doc):
                        return dict(doc)
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"document not done in time: {doc.get('status')} {doc.get('deliveries')}") from None


def settings_for(tmp_path: Path, urls: dict[str, str], database_url: str | None, amqp_url: str | None, **queue: Any) -> Settings:
    def origin(name: str) -> str:
        parts = urls[name].split("/")
        return "/".join(parts[:3])

    systems = {
        "electronic_budget": {"base_url": urls["electronic_budget"]},
        "budget_portal": {"base_url": origin("budget_portal")},
        "navigator": {"base_url": origin("navigator"), "breaker": {"failure_threshold": 50}},
        "eais": {"base_url": origin("eais")},
    }
    q = {"prefix": f"t{uuid.uuid4().hex[:8]}", "base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 4,
         "poll_interval_s": 0.05, **queue}  # fmt: skip
    return Settings(data_dir=tmp_path / "var", database_url=database_url, amqp_url=amqp_url, systems=systems, queue=q)


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack_factory(
    backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(consumers: bool = True, relay: bool = True, **queue: Any) -> Stack:
        install_pki(pki, tmp_path / "var")
        config = emulators.RunConfig(ports={n: 0 for n in SYSTEM_EMULATORS}, trust=tmp_path / "var" / "pki" / "ca.pem",
                                     eb_processing_delay_s=0.2, eb_publish_delay_s=0.2, navigator_certificates=100)  # fmt: skip
        running = await emulators.start(config, SYSTEM_EMULATORS)
        cleanups.append(lambda: emulators.stop(running))
        urls = {r.name: r.url for r in running}
        db_url = await pg_database() if backend == "rabbitmq" else None
        settings = settings_for(tmp_path, urls, db_url, AMQP if backend == "rabbitmq" else None, **queue)
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        cleanups.append(ctx.close)
        transport = build_transport(ctx)
        await transport.start(consumers=consumers, relay=relay)
        cleanups.append(transport.stop)
        client = await aiohttp_client(create_app(ctx, transport))
        return Stack(Api(client, ctx), transport, urls)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()


async def registry_application(stack: Stack) -> tuple[str, str, str]:
    api = stack.api
    provider = await api.token("luga", "Пример", "provider", "7701234567")
    body = await api.token("luga", "administration", "authorized_body")
    _, accepted = await api.submit(provider, "provider_registry_application", "luga",
                                   await api.example("provider_registry_application", "luga"))  # fmt: skip
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    return accepted["id"], provider, body


def delivered(doc: dict[str, Any]) -> bool:
    return bool(doc["deliveries"]) and all(d["status"] == "delivered" for d in doc["deliveries"])


async def test_a_document_is_delivered_once_and_journaled_once(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    doc_id, _, body = await registry_application(stack)
    status, doc = await stack.api.act(body, doc_id, "send")
    assert status == 200 and [d["status"] for d in doc["deliveries"]] == ["pending"]
    doc = await stack.wait_document(body, doc_id, delivered)
    assert doc["status"] == "delivered"
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("delivery_sent") == 1 and events.count("delivered") == 1
    assert events.index("sent") < events.index("delivery_sent") < events.index("delivered")
    received = await stack.emulator("GET", "navigator", "/received")
    assert received["total"] == 1 and received["duplicates"] == 0


async def test_transient_faults_are_retried_until_delivered(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    await stack.emulator("POST", "navigator", "/faults", json={"status": 503, "count": 2, "paths": ["/api/v1/documents"]})
    doc_id, _, body = await registry_application(stack)
    await stack.api.act(body, doc_id, "send")
    await stack.wait_document(body, doc_id, delivered)
    received = await stack.emulator("GET", "navigator", "/received")
    assert received["total"] == 1 and received["duplicates"] == 0


async def test_permanent_rejection_is_dead_lettered_and_replayed(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    # An agreement whose registry application the Navigator has never seen: refused for good.
    _, accepted = await api.submit(body, "cost_agreement", "luga", await api.example("cost_agreement", "luga"))
    doc_id = accepted["id"]
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    assert (await api.act(body, doc_id, "send"))[0] == 200
    doc = await stack.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "dead_lettered")
    assert doc["status"] == "sent"
    status, listing = await api.call("GET", "/api/v1/dead-letters", operator)
    assert status == 200
    (letter,) = [d for d in listing["items"] if d["document_id"] == doc_id]
    assert letter["system"] == "navigator" and letter["reason"]
    assert (await api.call("GET", "/api/v1/dead-letters", body))[0] == 403  # not the body's job
    status, _ = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", body)
    assert status == 403
    # The operator makes the Navigator accept it, then replays the original bytes.
    await stack.emulator("POST", "navigator", "/navigator/settings", json={"strict_references": False})
    status, replay = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", operator)
    assert status == 200 and replay["message_id"] == letter["message_id"]
    status, again = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", operator)
    assert status == 409
    await stack.wait_document(body, doc_id, delivered)
    _, journal = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("dead_lettered") == 1 and events.count("replayed") == 1 and events.count("delivered") == 1


async def test_backpressure_answers_429_with_retry_after(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory(consumers=False, relay=False, max_outbox_rows=1)
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    for _ in range(2):  # two sent documents: two unsent outbox rows, nobody relaying
        _, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
        await api.act(body, accepted["id"], "approve")
        await api.act(body, accepted["id"], "send")
    await asyncio.sleep(1.1)  # the probe caches its verdict for a second
    resp = await api.client.post(
        "/api/v1/documents", headers={"Authorization": f"Bearer {body}"},
        json={"type": "social_order", "municipality": "luga", "payload": await api.example("social_order", "luga")},
    )  # fmt: skip
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    problem = await resp.json(content_type=None)
    assert problem["code"] == "backpressure"
    _, listing = await api.call("GET", "/api/v1/documents?type=social_order", body)
    assert listing["total"] == 2  # the refused one changed nothing


async def test_consumer_ahead_of_the_relay_still_journals_delivery_sent_first(
    stack_factory: Callable[..., Awaitable[Stack]],
) -> None:
    """The broker can hand a message to a consumer before the relay commits ``sent``: the
    consumer records ``delivery_sent`` itself, before ``delivered``, and the relay's late
    update adds nothing."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from adapters.base import Outcome
    from gateway.delivery.handler import SystemHandler, mark_sent
    from queues.outbox import _message
    from queues.schema import outbox

    stack = await stack_factory(consumers=False, relay=False)
    doc_id, _, body = await registry_application(stack)
    assert (await stack.api.act(body, doc_id, "send"))[0] == 200
    engine = stack.api.ctx.db.write_engine
    async with engine.connect() as conn:
        (row,) = (await conn.execute(outbox.select())).all()
    message = _message(row)
    handler = SystemHandler(message.system, lambda: None)  # type: ignore[arg-type,return-value]
    async with AsyncSession(engine) as session, session.begin():
        await handler.record(message, Outcome(status="delivered", external_id="N-1"), session)
    async with engine.begin() as conn:  # the relay, late
        await mark_sent(conn, [message])
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("delivery_sent") == 1 and events.count("delivered") == 1, events
    assert events.index("delivery_sent") < events.index("delivered")
