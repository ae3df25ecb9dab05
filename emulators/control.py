"""The ``/_emulator/`` control API every emulator shares: what was received, and faults on demand.

- ``GET /_emulator/received``: every message the emulator took, with a count per message
  id so duplicates are visible, and ``conflicts``: how many external ids came with
  different bodies; ``DELETE`` clears it (and the bodies).
- ``GET /_emulator/bodies``: every request body the emulator got (taken or refused), by the
  external id it carried (``packageId``, SMEV ``MessageID``, Navigator ``message_id``, EB
  ``MessageId`` …): ``items`` ``[{id, seen, digests}]`` (SHA-256 of each distinct body) and
  ``conflicts``, the ids seen with more than one body.  Crash tests ask it whether a
  redelivered message was the same request, byte for byte.  What counts as the body is the
  emulator's: the raw request of a JSON API, the signed element of a signed SOAP request
  (a GOST signature value differs at every signing of the same bytes).
- ``POST /_emulator/faults``: switch faults on; ``GET`` shows them; ``DELETE`` clears.
  Body fields (all optional): ``latency_ms``, ``status`` (answer with this HTTP status;
  429 and 503 carry ``Retry-After: 1``),
  ``reset`` (drop the connection), ``malformed`` (answer garbage), ``unavailable_for_s``
  (a window of 503s), ``rate_limit_per_s`` (429 with Retry-After above it), and
  ``count`` (apply to the next N requests only; default: until cleared),
  ``paths`` (only requests whose path starts with one of these).

Faults apply to the emulated system's own routes, never to ``/_emulator/``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "/_emulator/"


@dataclass
class Faults:
    latency_ms: int = 0
    status: int | None = None
    reset: bool = False
    malformed: bool = False
    unavailable_until: float = 0.0
    rate_limit_per_s: float | None = None
    count: int | None = None
    paths: list[str] = field(default_factory=list)
    _window: list[float] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms, "status": self.status, "reset": self.reset, "malformed": self.malformed,
            "unavailable_for_s": max(0.0, round(self.unavailable_until - time.monotonic(), 3)),
            "rate_limit_per_s": self.rate_limit_per_s, "count": self.count, "paths": self.paths,
        }  # fmt: skip

    def applies(self, path: str) -> bool:
        if self.paths and not any(path.startswith(p) for p in self.paths):
            return False
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
        return True


@dataclass
class Received:
    message_id: str
    kind: str
    count: int
    first_at: float
    last_at: float
    info: dict[str, Any]


class Control:
    """State of one emulator's control plane; emulators call :meth:`record` for what they take."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.faults = Faults()
        self.received: dict[str, Received] = {}
        self.bodies: dict[str, dict[str, int]] = {}  # external id → {SHA-256 of a body: times seen}

    def observe(self, external_id: str, body: bytes) -> None:
        """Remember one request body received under an external id, whatever the answer to it."""
        digest = hashlib.sha256(body).hexdigest()
        seen = self.bodies.setdefault(external_id, {})
        seen[digest] = seen.get(digest, 0) + 1

    def conflicts(self) -> list[str]:
        """External ids that came with more than one body."""
        return sorted(i for i, digests in self.bodies.items() if len(digests) > 1)

    def record(self, message_id: str, kind: str, **info: Any) -> int:
        """Record a received message; returns how many times this id has now been seen."""
        now = time.time()
        entry = self.received.get(message_id)
        if entry is None:
            entry = self.received[message_id] = Received(message_id, kind, 0, now, now, dict(info))
        entry.count += 1
        entry.last_at = now
        return entry.count

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        f = self.faults
        now = time.monotonic()
        if f.unavailable_until > now:
            wait = str(max(1, math.ceil(f.unavailable_until - now)))
            return web.Response(status=503, headers={"Retry-After": wait}, text="unavailable (emulated window)")
        if f.rate_limit_per_s:
            f._window = [t for t in f._window if now - t < 1.0]
            if len(f._window) >= f.rate_limit_per_s:
                return web.Response(status=429, headers={"Retry-After": "1"}, text="rate limited (emulated)")
            f._window.append(now)
        active = (f.latency_ms or f.status or f.reset or f.malformed) and f.applies(request.path)
        if active and f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if active and f.reset:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("emulated reset")
        if active and f.status:
            headers = {"Retry-After": "1"} if f.status in (429, 503) else None
            return web.Response(status=f.status, headers=headers, text=f"emulated {f.status}")
        if active and f.malformed:
            return web.Response(status=200, body=b"\x00<<not what you expected", content_type="application/octet-stream")
        return await handler(request)

    # ------------------------------------------------------------------ routes
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_emulator/received", self._get_received),
            web.delete("/_emulator/received", self._clear_received),
            web.get("/_emulator/bodies", self._get_bodies),
            web.get("/_emulator/faults", self._get_faults),
            web.post("/_emulator/faults", self._set_faults),
            web.delete("/_emulator/faults", self._clear_faults),
        ]

    async def _get_received(self, request: web.Request) -> web.Response:
        items = [
            {"message_id": r.message_id, "kind": r.kind, "count": r.count, "first_at": r.first_at,
             "last_at": r.last_at, **r.info}
            for r in self.received.values()
        ]  # fmt: skip
        duplicates = sum(1 for r in self.received.values() if r.count > 1)
        return web.json_response({"emulator": self.name, "total": len(items), "duplicates": duplicates,
                                  "conflicts": len(self.conflicts()), "items": items})  # fmt: skip

    async def _clear_received(self, request: web.Request) -> web.Response:
        self.received.clear()
        self.bodies.clear()
        return web.json_response({"cleared": True})

    async def _get_bodies(self, request: web.Request) -> web.Response:
        items = [{"id": i, "seen": sum(d.values()), "digests": sorted(d)} for i, d in self.bodies.items()]
        repeated = sum(1 for d in self.bodies.values() if sum(d.values()) > 1)
        return web.json_response({"emulator": self.name, "total": len(items), "repeated": repeated,
                                  "conflicts": self.conflicts(), "items": items})  # fmt: skip

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.describe())

    async def _set_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        allowed = {"latency_ms", "status", "reset", "malformed", "unavailable_for_s", "rate_limit_per_s", "count", "paths"}
        unknown = set(body) - allowed
        if unknown:
            return web.json_response({"error": f"unknown fault fields: {sorted(unknown)}"}, status=400)
        f = Faults(
            latency_ms=int(body.get("latency_ms", 0)),
            status=body.get("status"),
            reset=bool(body.get("reset", False)),
            malformed=bool(body.get("malformed", False)),
            unavailable_until=time.monotonic() + float(body.get("unavailable_for_s", 0)),
            rate_limit_per_s=body.get("rate_limit_per_s"),
            count=body.get("count"),
            paths=list(body.get("paths", [])),
        )
        self.faults = f
        return web.json_response(f.describe())

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults = Faults()
        return web.json_response(self.faults.describe())


def application(control: Control, **kwargs: Any) -> web.Application:
    """An aiohttp application with the control plane mounted and its fault middleware first."""
    app = web.Application(middlewares=[control.middleware], **kwargs)
    app.add_routes(control.routes())
    return app
