"""Exactly once across a crash, to the last byte: for every delivery system and every step of a
delivery, a gateway process dies by SIGKILL at that step (a failpoint) and is started again.

- ``after_deliver``: the adapter's call returned, the record is not committed.  The message
  comes back and the system is called again: it must get the same bytes and take them as a
  duplicate.
- ``after_commit``: the record is committed, the message not acked.  It comes back and the
  inbox skips it.
- ``after_publish``: the relay's publish was confirmed, the rows are not marked sent.  They are
  published again and the inbox absorbs the copies.

``gateway serve`` (outbox relay, EPGU poller) and ``gateway worker`` (consumers) run as real
processes on PostgreSQL and RabbitMQ.  Each run asserts that the failpoint killed the process
(exit -9), that every delivery ends ``delivered``, journaled once, with no dead letter, and
that the system's emulator got identical bytes each time it saw an external id.  The twelve
runs take about two and a half minutes together.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.core.failpoints import AFTER_DELIVER, AFTER_PUBLISH, POINTS
from gateway.store.tables import journal
from gateway.systems import DELIVERY_SYSTEMS
from queues.schema import dead_letters
from tests.support.crash_stack import CrashStack, crash_stack
from tests.support.smev import Emulator

N = 4

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


async def _delivered_entries(stack: CrashStack, system: str) -> Counter[str]:
    """How many times each document (application, for ``epgu``) was journaled delivered to ``system``."""
    event = "epgu_status_delivered" if system == "epgu" else "delivered"
    async with stack.ctx.db.read() as conn:
        rows = (await conn.execute(sa.select(journal.c.document_id, journal.c.details).where(journal.c.event == event))).all()
    if system == "epgu":
        return Counter(str(details["application_message_id"]) for _, details in rows)
    return Counter(str(doc) for doc, details in rows if details.get("system") == system)


@pytest.mark.parametrize("step", POINTS)
@pytest.mark.parametrize("system", DELIVERY_SYSTEMS)
async def test_killed_at_a_failpoint_then_restarted(
    system: str, step: str, tmp_path: Path, epgu_pki_dir: Path, emulator: Emulator,
    aiohttp_client: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    async with crash_stack(tmp_path, epgu_pki_dir, emulator, aiohttp_client) as stack:
        keys = await stack.send_documents(system, N)
        victim = "serve" if step == AFTER_PUBLISH else "worker"
        for command in ("serve", "worker"):
            await stack.start(command, f"{step}:{system}" if command == victim else None)
        killed = stack.processes[-1 if victim == "worker" else 0]
        assert await killed.died(90) == -signal.SIGKILL, f"the failpoint did not kill gateway {victim}\n{killed.tail()}"
        await stack.start(victim)
        await stack.wait_delivered(system, keys, 90)
        await asyncio.sleep(0.5)  # a late duplicate would show itself now

        bodies = await stack.bodies(system)
        assert bodies["conflicts"] == [], f"an id sent twice with different bytes: {bodies['conflicts']}"
        if step == AFTER_DELIVER:
            assert bodies["repeated"] >= 1, "the killed delivery was not made again"
        assert await _delivered_entries(stack, system) == dict.fromkeys(keys, 1)
        async with stack.ctx.db.read() as conn:
            dead = (await conn.execute(sa.select(sa.func.count()).select_from(dead_letters))).scalar_one()
        assert dead == 0, f"{dead} dead letters\n{stack.logs_tail()}"
