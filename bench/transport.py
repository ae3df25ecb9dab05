"""Transport throughput: raw aio-pika against the library's paths, one figure per line.

Run: ``.venv/bin/python bench/transport.py [--messages N]`` with RabbitMQ and PostgreSQL on
loopback (``scripts/system-deps`` starts them).  Uses its own queue names, its own
PostgreSQL database ``gateway_queues_bench`` and a temporary SQLite file; cleans up after.

* raw aio-pika: publish with confirms (in-flight window), consume with per-message ack
  (prefetch), both 1 KiB persistent messages on a quorum queue, then both at once;
* rabbitmq path: outbox rows already committed → relay (confirms) → RabbitMQ → consumer
  runtime → inbox row committed in PostgreSQL → ack;
* embedded path: the same with the embedded queue on SQLite (the default) and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from queues.abc import Message, Transport  # noqa: E402
from queues.config import TransportConfig  # noqa: E402
from queues.db import create_engine  # noqa: E402
from queues.embedded import EmbeddedTransport  # noqa: E402
from queues.ids import message_id_for  # noqa: E402
from queues.outbox import add_messages  # noqa: E402
from queues.rabbitmq import RabbitTransport, delete_topology  # noqa: E402
from queues.schema import metadata  # noqa: E402
from queues.worker import Handler, Worker  # noqa: E402

AMQP = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "gateway_queues_bench"
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DB}"
BODY = os.urandom(1024)
WINDOW = 256
PREFETCH = 100


async def raw_aio_pika(n: int) -> tuple[float, float, float]:
    """(publish msg/s, consume msg/s, publish+consume at once msg/s) with plain aio-pika."""
    connection = await aio_pika.connect(AMQP)
    queue_name = f"bench.raw.{uuid.uuid4().hex[:8]}"
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        window = asyncio.Semaphore(WINDOW)

        async def publish_one(i: int) -> None:
            async with window:
                await channel.default_exchange.publish(
                    aio_pika.Message(BODY, message_id=str(i), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=queue_name,
                )

        async def publish_all() -> None:
            await asyncio.gather(*(publish_one(i) for i in range(n)))

        async def consume_all() -> None:
            consume_channel = await connection.channel()
            await consume_channel.set_qos(prefetch_count=PREFETCH)
            q = await consume_channel.declare_queue(queue_name, passive=True)
            done = asyncio.Event()
            count = 0

            async def on(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal count
                await message.ack()
                count += 1
                if count == n:
                    done.set()

            tag = await q.consume(on)
            await done.wait()
            await q.cancel(tag)
            await consume_channel.close()

        started = time.perf_counter()
        await publish_all()
        publish_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        await consume_all()
        consume_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(publish_all(), consume_all())
        both_rate = n / (time.perf_counter() - started)
        await queue.delete(if_unused=False, if_empty=False)
        return publish_rate, consume_rate, both_rate
    finally:
        await connection.close()


class NoopHandler(Handler):
    """The effect is only the inbox row the runtime writes."""

    async def record(self, message: Message, outcome: object, session: AsyncSession) -> None:
        return None


async def _fill_outbox(engine: AsyncEngine, n: int, system: str) -> float:
    started = time.perf_counter()
    for start in range(0, n, 1000):
        batch = [
            Message(
                message_id_for(f"doc-{i}", system),
                f"{system}.contract",
                BODY,
                {"n": str(i)},
                ordering_key=f"doc-{i}",
            )
            for i in range(start, min(start + 1000, n))
        ]
        async with engine.begin() as conn:
            await add_messages(conn, batch)
    return n / (time.perf_counter() - started)


async def library_path(
    engine: AsyncEngine, transport: Transport, config: TransportConfig, n: int
) -> tuple[float, float]:
    """(outbox insert msg/s, outbox → transport → consumer → inbox msg/s)."""
    system = config.systems[0]
    insert_rate = await _fill_outbox(engine, n, system)
    worker = Worker(transport, engine, {system: NoopHandler()}, config, relay=True)
    started = time.perf_counter()
    await worker.start()
    runtime = worker.runtimes[system]
    while True:  # polling a counter costs nothing measurable at 10 ms
        if runtime.handled + runtime.duplicates >= n:
            break
        await asyncio.sleep(0.01)
    rate = n / (time.perf_counter() - started)
    await worker.stop()
    return insert_rate, rate


async def _fresh_pg() -> AsyncEngine:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DB):
            await admin.execute(f'CREATE DATABASE "{PG_DB}"')
    finally:
        await admin.close()
    engine = create_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    return engine


async def _fresh_sqlite(directory: str) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{directory}/bench.sqlite3")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


async def main(n: int) -> None:
    publish, consume, both = await raw_aio_pika(n)
    print(f"raw aio-pika publish+confirm (window {WINDOW}): {publish:.0f} msg/s")
    print(f"raw aio-pika consume+ack (prefetch {PREFETCH}): {consume:.0f} msg/s")
    print(f"raw aio-pika publish and consume at once: {both:.0f} msg/s")

    config = TransportConfig(
        systems=("bench",), prefix=f"bench{uuid.uuid4().hex[:6]}", prefetch=PREFETCH, confirm_window=WINDOW
    )
    engine = await _fresh_pg()
    transport = RabbitTransport(AMQP, config)
    try:
        insert_rate, rabbit = await library_path(engine, transport, config, n)
    finally:
        await _delete_topology(config)
        await engine.dispose()
    print(f"outbox insert (PostgreSQL, 1000 rows per transaction): {insert_rate:.0f} msg/s")
    print(f"rabbitmq path (outbox -> RabbitMQ -> consumer -> inbox, PostgreSQL): {rabbit:.0f} msg/s")
    print(f"rabbitmq ratio vs raw aio-pika: {rabbit / both:.2f}")

    embedded_config = TransportConfig(systems=("bench",), prefetch=PREFETCH, poll_interval=0.05)
    with tempfile.TemporaryDirectory() as directory:
        engine = await _fresh_sqlite(directory)
        try:
            _, embedded = await library_path(
                engine, EmbeddedTransport(engine, embedded_config), embedded_config, n
            )
        finally:
            await engine.dispose()
    print(f"embedded: {embedded:.0f} msg/s")
    engine = await _fresh_pg()
    try:
        _, embedded_pg = await library_path(
            engine, EmbeddedTransport(engine, embedded_config), embedded_config, n
        )
    finally:
        await engine.dispose()
    print(f"embedded on PostgreSQL: {embedded_pg:.0f} msg/s")


async def _delete_topology(config: TransportConfig) -> None:
    await delete_topology(AMQP, config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(arguments.messages))
