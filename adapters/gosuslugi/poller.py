"""The GetRequest poller: receive, verify, hand over, and only then Ack.

``on_request`` is the gateway's callback: it commits the document and the inbox key (the
MessageID) in one transaction.  When it returns, the poller Acks; when it raises, there
is no Ack and SMEV delivers the message again later.  A MessageID whose callback already
completed is acked without calling back again (in memory for this process; across
restarts the optional ``is_handled`` hook — the gateway's inbox — answers).

Back-off: after an empty queue the pause grows from ``poll_interval_s`` to
``poll_idle_max_s``; after a message the next poll is immediate; after an error the pause
doubles up to ``poll_error_backoff_max_s``.  :meth:`stop` lets the message in hand finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from adapters.base import AdapterError
from adapters.gosuslugi.client import SmevClient
from adapters.gosuslugi.envelope import MessageTypeSelector
from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.messages import IncomingRequest
from adapters.gosuslugi.pins import fingerprint

log = logging.getLogger("adapters.gosuslugi.poller")

OnRequest = Callable[[IncomingRequest], Awaitable[None]]
IsHandled = Callable[[str], Awaitable[bool]]


class _Seen:
    """A bounded set of MessageIDs whose effect is committed."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, mid: str) -> bool:
        return mid in self._ids

    def add(self, mid: str) -> None:
        self._ids[mid] = None
        self._ids.move_to_end(mid)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class RequestPoller:
    """Polls GetRequest for each selector and feeds ``on_request`` until stopped."""

    def __init__(
        self,
        client: SmevClient,
        on_request: OnRequest,
        *,
        selectors: Sequence[MessageTypeSelector] | None = None,
        is_handled: IsHandled | None = None,
        interval_s: float | None = None,
        idle_max_s: float | None = None,
        error_backoff_max_s: float | None = None,
        require_sender_signature: bool | None = None,
    ) -> None:
        cfg = client.config
        self.client = client
        self.on_request = on_request
        self.selectors = list(selectors) if selectors is not None else [s.selector() for s in cfg.selectors]
        self.is_handled = is_handled
        self.interval_s = cfg.poll_interval_s if interval_s is None else interval_s
        self.idle_max_s = cfg.poll_idle_max_s if idle_max_s is None else idle_max_s
        self.error_max_s = cfg.poll_error_backoff_max_s if error_backoff_max_s is None else error_backoff_max_s
        self.require_sender_signature = cfg.require_sender_signature if require_sender_signature is None else require_sender_signature
        self.seen = _Seen()
        self.handled = 0
        self.errors = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.create_task(self.run(), name="smev-request-poller")
        return self._task

    def stop(self) -> None:
        self._stop.set()

    async def aclose(self, grace_s: float = 30.0) -> None:
        """Stop and wait for the message in hand; cancel after ``grace_s``."""
        self.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0 and not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), seconds)
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        idle = self.interval_s
        backoff = self.interval_s or 0.1
        while not self._stop.is_set():
            try:
                got = await self.poll_once()
            except AdapterError as exc:
                self.errors += 1
                log.warning("smev poll failed: %s; retry in %.1fs", exc.code, backoff)
                await self._sleep(backoff)
                backoff = min(max(backoff * 2, 0.1), self.error_max_s)
                continue
            backoff = self.interval_s or 0.1
            if got:
                idle = self.interval_s
                continue
            await self._sleep(idle)
            idle = min(max(idle * 2, 0.05), self.idle_max_s)

    async def poll_once(self) -> int:
        """One GetRequest per selector; handles what arrives; returns how many arrived."""
        count = 0
        for selector in self.selectors:
            if self._stop.is_set():
                break
            try:
                request = await self.client.get_request(selector)
            except SmevSignatureError as exc:
                await self.refused_unverified(exc)
                raise
            if request is None:
                continue
            count += 1
            await self.handle(request)
        return count

    async def refused_unverified(self, error: SmevSignatureError) -> None:
        """A message whose ЭП-СМЭВ failed (or is not the pinned key): neither used nor acknowledged.

        SMEV delivers it again later, so a message refused for a stale pin is not lost; the
        hook is for the operator's record (the gateway journals it).
        """
        log.warning("smev message mid=%s (unverified) refused: %s, signer sha256=%s; not acknowledged",
                    error.message_id or "?", error.code, error.signer_sha256 or "-")  # fmt: skip

    async def handle(self, request: IncomingRequest) -> bool:
        """Call back and Ack one request; ``False`` when the callback failed (no Ack)."""
        mid = request.message_id
        check = request.sender_signature
        if self.require_sender_signature and (check is None or not check.ok):
            codes = ",".join(check.codes) if check else "missing"
            signer = fingerprint(check.certificate) if check and check.certificate else "-"
            log.warning("smev request mid=%s from %s refused: sender signature %s, signer sha256=%s; ack accepted=false",
                        mid, request.metadata.sender or "?", codes, signer)  # fmt: skip
            await self._ack(mid, accepted=False)
            return True
        duplicate = mid in self.seen or (self.is_handled is not None and await self.is_handled(mid))
        if duplicate:
            log.info("smev request mid=%s already handled; ack again", mid)
        else:
            try:
                await self.on_request(request)
            except Exception as exc:  # the callback's failure: no Ack, SMEV redelivers
                self.errors += 1
                log.warning("smev request mid=%s callback failed (%s); not acknowledged", mid, type(exc).__name__)
                return False
            self.seen.add(mid)
            self.handled += 1
        await self._ack(mid, accepted=True)
        return True

    async def _ack(self, mid: str, *, accepted: bool) -> None:
        try:
            await self.client.ack(mid, accepted)
        except AdapterError as exc:
            if exc.code == "smev_ack_target_not_found":
                return  # acked already (a lost AckResponse): nothing left to do
            # the effect is committed; a redelivery is recognised as a duplicate and acked then
            log.warning("smev ack mid=%s failed: %s", mid, exc.code)
            self.errors += 1
