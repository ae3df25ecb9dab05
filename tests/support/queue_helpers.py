"""Test helpers: service URLs, polling, a fault-injecting TCP proxy and worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from queues.config import TransportConfig
from queues.worker_demo import config_to_json, effects

RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = f"gateway_queues_test_{os.getpid()}"  # one per test process: parallel runs must not collide
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DATABASE}"
ROOT = Path(__file__).resolve().parents[2]


async def wait_until(
    predicate: Callable[[], Awaitable[bool]],
    seconds: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(interval)


async def effect_counts(engine: AsyncEngine) -> tuple[int, int]:
    """(effect rows, distinct message ids) in demo_effects."""
    async with engine.connect() as conn:
        total, distinct = (
            await conn.execute(select(func.count(), func.count(func.distinct(effects.c.message_id))))
        ).one()
    return int(total), int(distinct)


def config_json(config: TransportConfig) -> str:
    return config_to_json(config)


class WorkerProcess:
    """``python -m queues.worker_demo`` as a child process, stopped or killed by the test."""

    def __init__(self, db_url: str, amqp_url: str | None, config: TransportConfig, *args: str):
        cmd = [
            sys.executable,
            "-m",
            "queues.worker_demo",
            "--db",
            db_url,
            "--config",
            config_json(config),
            *args,
        ]
        if amqp_url:
            cmd += ["--amqp", amqp_url]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=None, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )

    async def ready(self, seconds: float = 30.0) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), seconds)
        assert line.strip() == b"ready", f"worker did not start: {line!r}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def terminate(self, seconds: float = 30.0) -> int:
        """SIGTERM and wait without blocking the loop: the test's own consumers may hold a
        SQLite write lock that the child needs to finish its shutdown."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), seconds)
        except TimeoutError:
            self.kill()
            raise


class ChaosProxy:
    """A TCP proxy on loopback that can drop every connection through it (aio-pika style)."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5672):
        self.target = (target_host, target_port)
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.drops = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def drop_all(self) -> None:
        """Cut every live connection abruptly (RST where possible)."""
        self.drops += 1
        for writer in list(self.writers):
            transport: Any = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def rabbitmqctl(*args: str, timeout: float = 60.0) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, timeout=timeout, capture_output=True)


def demo_message(i: int, system: str = "alpha", *, key: str | None = None, fail: str | None = None) -> Any:
    """A ~1 KB message numbered ``i`` (``seq`` header) for the demo handler."""
    from queues.abc import Message
    from queues.ids import message_id_for

    headers = {"seq": str(i)}
    if fail:
        headers["fail"] = fail
    body = (f"<doc n='{i}'/>".encode() + bytes(range(256)) * 4)[:1024]
    return Message(message_id_for(f"doc-{i}", system), f"{system}.contract", body, headers, ordering_key=key)


async def send(engine: AsyncEngine, messages: list[Any]) -> None:
    """Write outbox rows in one transaction, as the gateway does."""
    from queues.outbox import add_messages

    async with engine.begin() as conn:
        await add_messages(conn, messages)
