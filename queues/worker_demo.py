"""A runnable worker for fault tests and the benchmark: ``python -m queues.worker_demo``.

Its handler records every applied effect as a row of ``demo_effects`` (no unique key on
purpose, so a second effect of one message would show as a second row).  Options make it
slow or failing so tests can kill it mid-batch.  Not used by the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from queues.abc import Message
from queues.config import BackpressureConfig, RetryPolicy, TransportConfig
from queues.db import create_engine
from queues.errors import PermanentError, TransientError
from queues.factory import build_transport
from queues.outbox import OutboxRelay
from queues.schema import Id
from queues.worker import Handler, Worker, stop_on_signals

demo_metadata = MetaData()

effects = Table(
    "demo_effects",
    demo_metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("ordering_key", String(255), nullable=True),
    Column("seq", Integer, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
)


class DemoHandler(Handler):
    """Writes one ``demo_effects`` row per applied message.

    Header ``fail`` controls failures: ``transient:N`` fails the first N attempts,
    ``permanent`` always fails permanently, ``always`` always fails transiently.
    """

    def __init__(self, system: str, delay: float = 0.0):
        self.system = system
        self.delay = delay

    async def deliver(self, message: Message) -> Any:
        if self.delay:
            await asyncio.sleep(self.delay)  # the "external call"
        fail = message.headers.get("fail", "")
        if fail == "permanent":
            raise PermanentError("demo: rejected by the other side (HTTP 400)")
        if fail == "always" or (fail.startswith("transient:") and message.attempt < int(fail.split(":")[1])):
            raise TransientError("demo: other side unavailable (HTTP 503)")
        return None

    async def record(self, message: Message, outcome: Any, session: AsyncSession) -> None:
        seq = message.headers.get("seq")
        await session.execute(
            insert(effects).values(
                message_id=message.message_id,
                system=self.system,
                ordering_key=message.ordering_key,
                seq=None if seq is None else int(seq),
                attempt=message.attempt,
                body_sha256=hashlib.sha256(message.body).hexdigest(),
                pid=os.getpid(),
            )
        )


def config_from_json(data: Mapping[str, Any]) -> TransportConfig:
    """A :class:`TransportConfig` from plain JSON (nested retry and backpressure objects)."""
    values = dict(data)
    values["systems"] = tuple(values.get("systems", ()))
    if "retry" in values:
        values["retry"] = RetryPolicy(**values["retry"])
    if "backpressure" in values:
        values["backpressure"] = BackpressureConfig(**values["backpressure"])
    if "retry_per_system" in values:
        values["retry_per_system"] = {k: RetryPolicy(**v) for k, v in values["retry_per_system"].items()}
    return TransportConfig(**values)


def config_to_json(config: TransportConfig) -> str:
    """The inverse of :func:`config_from_json`, to hand a config to a child process."""
    data = {f.name: getattr(config, f.name) for f in fields(config)}
    data["retry"] = asdict(config.retry)
    data["backpressure"] = asdict(config.backpressure)
    data["retry_per_system"] = {k: asdict(v) for k, v in config.retry_per_system.items()}
    data["systems"] = list(config.systems)
    return json.dumps(data)


async def _main(args: argparse.Namespace) -> None:
    config = config_from_json(json.loads(args.config))
    engine = create_engine(args.db)
    transport = build_transport(config, engine, args.amqp)
    stop = asyncio.Event()
    stop_on_signals(stop)
    handlers: dict[str, Handler] = {}
    if args.consume:
        handlers = {s: DemoHandler(s, args.delay) for s in config.systems}
    worker = Worker(transport, engine, handlers, config)
    await worker.start()
    relay_task = None
    if args.relay:
        relay = OutboxRelay(engine, transport, config, owner=f"demo-{os.getpid()}")
        relay_task = asyncio.create_task(relay.run(stop))
    print("ready", flush=True)
    await stop.wait()
    if relay_task is not None:
        await relay_task
    await worker.stop()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Demo worker for fault tests")
    parser.add_argument("--db", required=True, help="SQLAlchemy async URL")
    parser.add_argument("--amqp", default=None, help="RabbitMQ URL; embedded queue if absent")
    parser.add_argument("--config", required=True, help="TransportConfig as JSON")
    parser.add_argument("--relay", action="store_true", help="run the outbox relay")
    parser.add_argument("--consume", action="store_true", help="run consumers for all systems")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each effect takes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(process)d %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
