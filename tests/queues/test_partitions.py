"""RabbitMQ partitions: one document's messages in order across worker processes.

Two workers are two :class:`~queues.worker.Worker` objects with their own connections in
this process, so that one record of handling (start order, overlap) covers both.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from queues import retry as retry_schedule
from queues.abc import Delivery, Message
from queues.amqp import H_ROUTING_KEY, Topology, partition_of, to_amqp
from queues.config import TransportConfig
from queues.rabbitmq import RabbitTransport
from queues.worker import Handler, Worker
from tests.support.queue_helpers import RABBIT_URL, wait_until
from tests.support.queues import fast_config

rabbitmq = pytest.mark.rabbitmq


# -- the partition function --------------------------------------------------------------


def test_partition_of_is_pinned() -> None:
    """Publishers of different versions must agree: the hash is part of the wire format."""
    assert [partition_of(key, 8) for key in ("doc-1", "doc-2", "a", "", "документ-42")] == [1, 2, 7, 4, 4]
    assert partition_of("doc-1", 1_000_003) == 294805


@given(st.text(), st.integers(1, 64))
def test_partition_of_is_in_range(key: str, partitions: int) -> None:
    assert 0 <= partition_of(key, partitions) < partitions


def test_partitions_are_balanced() -> None:
    counts = collections.Counter(partition_of(f"doc-{i}", 8) for i in range(8000))
    assert sorted(counts) == list(range(8))
    assert all(800 <= n <= 1200 for n in counts.values()), counts


def test_route_reaches_one_partition_and_never_the_legacy_binding() -> None:
    topology = Topology(TransportConfig(systems=("alpha",), prefix="p", partitions=4))
    keyed = Message("m-1", "alpha.contract", b"", ordering_key="doc-7")
    unkeyed = Message("doc-7", "alpha.report", b"")
    assert topology.route(keyed) == f"alpha:{partition_of('doc-7', 4)}"
    assert topology.route(unkeyed) == topology.route(keyed), "no ordering key: the message id decides"
    assert topology.main_queues("alpha") == ["p.alpha.0", "p.alpha.1", "p.alpha.2", "p.alpha.3", "p.alpha"]
    assert topology.route(keyed).split(".")[0] != "alpha", "the legacy binding alpha.# would match"
    assert not set(topology.all_queues()) & {name for _, name in _old_retry_tiers(topology, "alpha")}
    with pytest.raises(ValueError):
        TransportConfig(systems=("alpha:1",))
    with pytest.raises(ValueError):
        TransportConfig(systems=("alpha",), partitions=0)


def _old_retry_tiers(topology: Topology, system: str) -> list[tuple[float, str]]:
    """The retry tier queues of the unpartitioned versions (dead-lettering to ``p.s``)."""
    prefix = topology.config.prefix
    return [
        (t, f"{prefix}.{system}.retry.{round(t * 1000)}") for t in retry_schedule.tiers(topology.config.retry)
    ]


def _keys_in_distinct_partitions(config: TransportConfig, n: int) -> list[str]:
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < n:
        keys.setdefault(partition_of(f"doc-{i}", config.partitions), f"doc-{i}")
        i += 1
    return list(keys.values())


async def _depths(config: TransportConfig, names: list[str]) -> dict[str, int]:
    connection = await aio_pika.connect(RABBIT_URL)
    try:
        channel = await connection.channel()
        out = {}
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            out[name] = int(queue.declaration_result.message_count or 0)
        return out
    finally:
        await connection.close()


# -- two workers ---------------------------------------------------------------------------


@dataclass
class Ledger:
    """What both workers handled: start order per document, overlaps, who handled it."""

    order: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    active: collections.Counter[str] = field(default_factory=collections.Counter)
    overlaps: list[tuple[str, int]] = field(default_factory=list)
    by_worker: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def handled(self) -> int:
        return sum(len(seqs) for seqs in self.order.values())


class SlowHandler(Handler):
    def __init__(self, name: str, ledger: Ledger, seconds: float):
        self.name = name
        self.ledger = ledger
        self.seconds = seconds

    async def deliver(self, message: Message) -> Any:
        key = message.ordering_key
        assert key is not None
        seq = int(message.headers["seq"])
        if self.ledger.active[key]:
            self.ledger.overlaps.append((key, seq))
        self.ledger.active[key] += 1
        self.ledger.order[key].append(seq)
        self.ledger.by_worker[self.name] += 1
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.ledger.active[key] -= 1


@pytest.fixture
async def two_workers(
    db: tuple[AsyncEngine, str], rabbit_cleanup: list[TransportConfig]
) -> AsyncIterator[tuple[TransportConfig, Ledger, dict[str, Worker]]]:
    engine, _ = db
    config = fast_config(systems=("alpha",), partitions=4, prefetch=20)
    rabbit_cleanup.append(config)
    ledger = Ledger()
    workers = {
        name: Worker(
            RabbitTransport(RABBIT_URL, config, connection_name=f"test-{name}"),
            engine,
            {"alpha": SlowHandler(name, ledger, 0.02)},
            config,
        )
        for name in ("a", "b")
    }
    started: list[Worker] = []
    try:
        for worker in workers.values():
            await worker.start()
            started.append(worker)
        yield config, ledger, workers
    finally:
        for worker in started:
            await worker.stop()


async def _publish_interleaved(config: TransportConfig, keys: list[str], per_key: int) -> None:
    """Each document's messages in sequence, the documents interleaved; one confirm at a time."""
    publisher = RabbitTransport(RABBIT_URL, config, connection_name="test-publisher")
    await publisher.start()
    try:
        for seq in range(per_key):
            for key in keys:
                await publisher.publish(
                    Message(f"{key}-{seq}", "alpha.contract", b"<doc/>", {"seq": str(seq)}, ordering_key=key)
                )
    finally:
        await publisher.close()


def _assert_in_order(ledger: Ledger, keys: list[str], per_key: int) -> None:
    assert ledger.overlaps == [], "two messages of one document handled at once"
    for key in keys:
        assert ledger.order[key] == list(range(per_key)), f"{key} out of order"


@rabbitmq
async def test_two_workers_keep_each_documents_order(
    two_workers: tuple[TransportConfig, Ledger, dict[str, Worker]],
) -> None:
    config, ledger, _ = two_workers
    keys, per_key = [f"doc-{i}" for i in range(6)], 15
    await _publish_interleaved(config, keys, per_key)

    async def done() -> bool:
        return ledger.handled >= len(keys) * per_key

    await wait_until(done, 60, what="every message handled")
    await asyncio.sleep(0.2)
    _assert_in_order(ledger, keys, per_key)


@rabbitmq
async def test_stopped_workers_partitions_are_taken_over_in_order(
    two_workers: tuple[TransportConfig, Ledger, dict[str, Worker]],
) -> None:
    config, ledger, workers = two_workers
    keys, per_key = [f"doc-{i}" for i in range(8)], 20
    total = len(keys) * per_key
    publishing = asyncio.create_task(_publish_interleaved(config, keys, per_key))

    async def some() -> bool:
        return ledger.handled >= total // 3

    await wait_until(some, 60, what="a third handled")
    busiest = max(workers, key=lambda name: ledger.by_worker[name])
    other = next(name for name in workers if name != busiest)
    before = ledger.by_worker[other]
    await workers[busiest].stop()  # mid-stream: its in-flight messages finish, the rest go back
    await publishing

    async def done() -> bool:
        return ledger.handled >= total

    await wait_until(done, 60, what="the other worker to finish")
    await asyncio.sleep(0.2)
    assert ledger.by_worker[other] > before, "the other worker took nothing over"
    _assert_in_order(ledger, keys, per_key)


# -- retries and the legacy queue -------------------------------------------------------


@rabbitmq
async def test_retry_comes_back_to_its_partition(rabbit_cleanup: list[TransportConfig]) -> None:
    config = fast_config(systems=("alpha",), partitions=4)
    rabbit_cleanup.append(config)
    topology = Topology(config)
    transport = RabbitTransport(RABBIT_URL, config)
    await transport.start()
    keys = _keys_in_distinct_partitions(config, 2)
    retried: list[str] = []

    async def retry_once(delivery: Delivery) -> None:
        retried.append(delivery.message.message_id)
        await delivery.retry(0.4, "занято")

    consumer = await transport.consume("alpha", retry_once)
    for key in keys:
        await transport.publish(
            Message(f"m-{key}", "alpha.contract", b"\x00x", {"kind": "k"}, ordering_key=key)
        )

    async def both() -> bool:
        return len(retried) == 2

    await wait_until(both, 10, what="two first attempts")
    await consumer.stop()  # the retries expire with nobody consuming: they must wait in their partitions
    expected = {topology.partition_queue("alpha", partition_of(key, 4)): 1 for key in keys}
    names = topology.main_queues("alpha") + [name for _, name in topology.retry_queues("alpha")]

    async def back() -> bool:
        depths = await _depths(config, names)
        return {name: n for name, n in depths.items() if n} == expected

    await wait_until(back, 10, what="both retries back in their own partition queues")
    got: list[Message] = []

    async def record(delivery: Delivery) -> None:
        got.append(delivery.message)
        await delivery.ack()

    consumer = await transport.consume("alpha", record)

    async def two() -> bool:
        return len(got) == 2

    await wait_until(two, 10, what="the retried messages")
    await consumer.stop()
    for message in got:
        assert (message.attempt, message.reason, message.routing_key) == (1, "занято", "alpha.contract")
        assert dict(message.headers) == {"kind": "k"} and message.body == b"\x00x"
    assert sorted(m.ordering_key or "" for m in got) == sorted(keys)
    await transport.close()


@rabbitmq
async def test_legacy_queue_is_still_declared_and_drained(rabbit_cleanup: list[TransportConfig]) -> None:
    """An unpartitioned deployment upgraded: nothing in its old queues is stranded."""
    config = fast_config(systems=("alpha",), partitions=4)
    rabbit_cleanup.append(config)
    topology = Topology(config)
    legacy, dead = topology.legacy_queue("alpha"), topology.dead_queue("alpha")
    old_tier = _old_retry_tiers(topology, "alpha")[0][1]
    connection = await aio_pika.connect(RABBIT_URL)
    try:
        channel = await connection.channel(publisher_confirms=True)
        # The topology of the unpartitioned version, as it declared it.
        exchange = await channel.declare_exchange(
            topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        safe: dict[str, Any] = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        await channel.declare_queue(dead, durable=True, arguments=quorum)
        old = await channel.declare_queue(
            legacy,
            durable=True,
            arguments={
                **quorum,
                **safe,
                "x-delivery-limit": config.delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            },
        )
        await old.bind(exchange, routing_key="alpha.#")
        await channel.declare_queue(
            old_tier,
            durable=True,
            arguments={
                **quorum,
                **safe,
                "x-message-ttl": 2000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": legacy,
            },
        )
        for seq in range(5):  # published by the old version: logical key = AMQP routing key
            sent = Message(f"old-{seq}", "alpha.contract", b"old", {"seq": str(seq)}, ordering_key="doc-1")
            await exchange.publish(to_amqp(sent), routing_key="alpha.contract")
        waiting = to_amqp(Message("old-retry", "alpha.report", b"old", attempt=1), expiration=1.5)
        assert waiting.headers is not None
        waiting.headers[H_ROUTING_KEY] = "alpha.report"  # the old retry carried its route so
        await channel.default_exchange.publish(waiting, routing_key=old_tier)

        transport = RabbitTransport(RABBIT_URL, config)
        await transport.start()  # redeclares the old queue: arguments must be unchanged
        await transport.publish(Message("new-0", "alpha.contract", b"new", ordering_key="doc-1"))
        depths = await _depths(config, topology.main_queues("alpha"))
        assert depths[legacy] == 5, "a new publish reached the legacy queue"
        assert depths[topology.partition_queue("alpha", partition_of("doc-1", 4))] == 1

        got: list[Message] = []

        async def record(delivery: Delivery) -> None:
            if delivery.message.message_id == "old-0" and delivery.message.attempt == 0:
                await delivery.retry(0.1, "ещё раз")  # a legacy message retried moves to its partition
                return
            got.append(delivery.message)
            await delivery.ack()

        consumer = await transport.consume("alpha", record)

        async def drained() -> bool:
            return len(got) == 7

        await wait_until(drained, 15, what="the legacy queue and the old retry tier drained")
        await consumer.stop()
        assert sorted(m.message_id for m in got) == ["new-0", *(f"old-{i}" for i in range(5)), "old-retry"]
        assert {m.message_id: m.routing_key for m in got}["old-retry"] == "alpha.report"
        assert all(m.routing_key == "alpha.contract" for m in got if m.message_id != "old-retry")
        assert [m.attempt for m in got if m.message_id == "old-0"] == [1]
        assert await transport.depth("alpha") == 0
        await transport.close()
        message_count = (await channel.declare_queue(old_tier, passive=True)).declaration_result.message_count
        assert message_count == 0
    finally:
        channel = await connection.channel()
        await channel.queue_delete(old_tier)
        await connection.close()
