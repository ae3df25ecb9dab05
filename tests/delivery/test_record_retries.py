"""A write of the consumer that meets a transient database error is retried, and a delivery whose
write still fails goes back to its queue: never left unsettled, never a spent attempt, never a
dead letter for what was delivered.

The fault is real: another session holds a table locked, and the database (``lock_timeout``)
refuses the consumer's write with ``lock_not_available``, as a busy database does.  The lock is
released once the consumer has given the message back at least once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from tests.support.db_faults import set_lock_timeout, table_locked
from tests.support.delivery_stack import Stack, registry_application
from tests.support.gateway import pg_database

pytestmark = pytest.mark.postgres

GIVEN_BACK = "given back to the"


async def given_back(caplog: pytest.LogCaptureFixture, seconds: float = 15) -> bool:
    """Whether the consumer gave a message back after its retries (its warning) within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            for _ in iter(int, 1):  # the log has no event to wait on
                if any(GIVEN_BACK in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True


async def journal_events(stack: Stack, token: str, doc_id: str) -> list[str]:
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", token)
    return [e["event"] for e in journal["items"]]


async def test_a_delivery_recorded_late_is_delivered_with_no_attempt_spent(
    stack_factory: Callable[..., Awaitable[Stack]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="queues.worker")
    database = await pg_database()
    await set_lock_timeout(database, 200)
    stack = await stack_factory(database_url=database, max_attempts=1)  # one spent attempt would dead-letter it
    doc_id, _, body = await registry_application(stack)
    async with table_locked(database, "queue_inbox"):  # where the record claims the message id
        assert (await stack.api.act(body, doc_id, "send"))[0] == 200
        gave_back = await given_back(caplog)
    await stack.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] in ("delivered", "dead_lettered"))
    events = await journal_events(stack, body, doc_id)
    assert events.count("delivered") == 1 and "dead_lettered" not in events, events
    assert gave_back
    bodies = await stack.emulator("GET", "navigator", "/bodies")
    assert bodies["repeated"] == 1 and bodies["conflicts"] == []  # called again after the give-back, same bytes


async def test_a_dead_letter_is_recorded_once_the_database_lets_it(
    stack_factory: Callable[..., Awaitable[Stack]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="queues.worker")
    database = await pg_database()
    await set_lock_timeout(database, 200)
    stack = await stack_factory(database_url=database)
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    # An agreement whose registry application the Navigator has never seen: refused for good.
    _, accepted = await api.submit(body, "cost_agreement", "luga", await api.example("cost_agreement", "luga"))
    doc_id = accepted["id"]
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    async with table_locked(database, "queue_dead_letters"):
        assert (await api.act(body, doc_id, "send"))[0] == 200
        gave_back = await given_back(caplog)
    await stack.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "dead_lettered")
    events = await journal_events(stack, body, doc_id)
    assert events.count("dead_lettered") == 1 and gave_back, events
    _, listing = await api.call("GET", "/api/v1/dead-letters", operator)
    assert [d["document_id"] for d in listing["items"]] == [doc_id]
