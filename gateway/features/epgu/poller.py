"""The EPGU poller of ``gateway serve``: consumer applications in through SMEV 3 ``GetRequest``.

Each application goes to :class:`~gateway.features.epgu.intake.Intake`; a message is
acknowledged only after its effect (document or refusal, inbox key, status) is committed.
It reads with the context's SMEV client, the one the transport's EPGU consumer sends with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.base import AdapterError
from adapters.gosuslugi.client import SmevClient
from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.messages import IncomingRequest
from adapters.gosuslugi.poller import RequestPoller
from gateway.context import Context
from gateway.features.epgu.intake import Intake
from gateway.systems.smev import LazyGosuslugiAdapter, SmevSetupError
from gateway.workflow.feature import Runtime
from gateway.workflow.service import DocumentService

log = logging.getLogger("gateway.epgu")

RESTART_DELAY_S = 5.0

__all__ = ["EpguPoller", "run", "start_poller"]


class EpguPoller(RequestPoller):
    """The adapter's poller, journaling what it refuses: a bad or unauthorized sender, a bad or foreign ЭП-СМЭВ."""

    def __init__(
        self, *args: Any, on_unverified: Callable[[IncomingRequest], Awaitable[None]],
        on_smev_refused: Callable[[SmevSignatureError], Awaitable[None]] | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.on_unverified = on_unverified
        self.on_smev_refused = on_smev_refused

    async def refused_unverified(self, error: SmevSignatureError) -> None:
        await super().refused_unverified(error)
        if self.on_smev_refused is not None:
            try:
                await self.on_smev_refused(error)
            except Exception as exc:  # journaling must not turn a refusal into a crash of the loop
                log.warning("smev refusal mid=%s not journaled: %s", error.message_id or "?", type(exc).__name__)

    async def handle(self, request: IncomingRequest) -> bool:
        check = request.sender_signature
        if self.require_sender_signature and (check is None or not check.ok):
            try:
                await self.on_unverified(request)
            except Exception as exc:  # journaling must not keep a forged message from its refusal
                log.warning("epgu unverified mid=%s not journaled: %s", request.message_id, type(exc).__name__)
        return await super().handle(request)


def start_poller(ctx: Context, service: DocumentService, client: SmevClient) -> tuple[EpguPoller, asyncio.Task[None]]:
    """The poller of EPGU applications on ``client``, started; its callbacks commit through ``service``."""
    intake = Intake(ctx, service)
    poller = EpguPoller(client, intake.on_request, is_handled=intake.is_handled, on_unverified=intake.refuse_unverified,
                        on_smev_refused=intake.smev_refused)  # fmt: skip
    return poller, poller.start()


async def _client(ctx: Context, stop: asyncio.Event) -> SmevClient | None:
    """The context's SMEV client (shared with the transport's EPGU consumer), once it can be built."""
    adapter = ctx.systems.typed("epgu", LazyGosuslugiAdapter)
    delay = 1.0
    while not stop.is_set():
        try:
            return await adapter.client()
        except SmevSetupError as exc:
            log.warning("EPGU applications are not polled: %s (%s)", exc.detail, exc.code)
            return None
        except AdapterError as exc:
            log.warning("SMEV client not ready (%s); retry in %.0fs", exc.code, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            delay = min(delay * 2, 60.0)
    return None


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """Poll SMEV for EPGU applications until ``stop`` is set."""
    ctx = runtime.ctx
    client = await _client(ctx, stop)
    if client is None:
        return
    poller, task = start_poller(ctx, runtime.service, client)
    log.info("EPGU poller started: %s (schema %s)", client.endpoint, ctx.settings.smev.schema_version)
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                break
            failure = None if task.cancelled() else task.exception()
            log.error("EPGU poller stopped unexpectedly (%s); restarting", type(failure).__name__)
            try:
                await asyncio.wait_for(asyncio.shield(stopping), RESTART_DELAY_S)
            except TimeoutError:
                task = poller.start()
    finally:
        stopping.cancel()
        await poller.aclose(grace_s=10.0)
