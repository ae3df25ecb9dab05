"""The regional Navigator adapter: push D3–D7, pull what providers and families did, sync its registries.

REST/JSON with a bearer token from client credentials (fetched lazily, refreshed once on a
401).  Pulls go by an opaque change cursor and are streamed page by page: each
``async for`` step fetches one page, yields it, and fetches the next only when the caller
asks, so at most one page is held; the caller stores ``page.cursor`` after it has
processed the page and resumes from it after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.config import NavigatorSettings
from adapters.http import JsonClient, Reply, describe_errors, remote_errors
from adapters.navigator import mapping

TITLE = "Навигатор дополнительного образования"
Registry = Literal["providers", "certificates"]
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a feed; ``cursor`` is where the next page starts (persist it once the page is processed)."""

    items: list[T]
    cursor: str
    has_more: bool
    remaining: int | None = None  # about how many records follow (registries), for progress


class NavigatorAdapter(Adapter):
    system: ClassVar[str] = "navigator"

    def __init__(self, settings: NavigatorSettings) -> None:
        self.settings = settings
        self.http = JsonClient(self.system, TITLE, settings)
        self._token: str | None = None
        self._token_lock = asyncio.Lock()

    def state(self) -> str:
        """Circuit breaker state, for ``/readyz`` and metrics."""
        return self.http.resilience.state()

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------------ auth
    async def _get_token(self, stale: str | None = None) -> str:
        async with self._token_lock:
            if self._token is None or self._token == stale:
                self._token = None
                reply = await self.http.request(
                    "POST", "/api/v1/auth/token",
                    json_body={"client_id": self.settings.client_id,
                               "client_secret": self.settings.client_secret.get_secret_value()},
                )  # fmt: skip
                if reply.status in (401, 403, 422):
                    raise PermanentError("auth_failed", f"{TITLE}: учётные данные шлюза не приняты")
                try:
                    self._token = str(reply.body["data"]["access_token"])
                except (KeyError, TypeError):
                    raise TransientError("malformed_reply", f"{TITLE}: ответ без токена доступа") from None
            return self._token

    async def _call(
        self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, str] | None = None, idempotent: bool
    ) -> Reply:
        token = await self._get_token()
        for attempt in (1, 2):
            reply = await self.http.request(
                method, path, json_body=json_body, params=params, headers={"Authorization": f"Bearer {token}"},
                idempotent=idempotent,
            )  # fmt: skip
            if reply.status != 401 or attempt == 2:
                break
            token = await self._get_token(stale=token)  # expired or revoked: one fresh token, one more try
        if reply.status == 401:
            raise PermanentError("unauthorized", f"{TITLE}: доступ не предоставлен")
        return reply

    def _refused(self, reply: Reply, what: str) -> PermanentError:
        errors = remote_errors(reply.body)
        code = reply.body.get("code") if isinstance(reply.body, dict) else None
        code = str(code or (errors[0]["code"] if errors else f"http_{reply.status}"))[:64]
        return PermanentError(code, f"{TITLE} отклонил {what}: {describe_errors(errors)}")

    # ------------------------------------------------------------------ push
    async def deliver(self, outgoing: Outgoing) -> Outcome:
        """Push one D3–D7 document; ``accepted`` with the Navigator's id as ``external_id``.

        A message whose metadata has ``operation: status_report`` instead reports what became
        of a document pushed before (``navigator_id``, ``status``, ``reason``).
        """
        if outgoing.metadata.get("operation") == "status_report":
            meta = outgoing.metadata
            navigator_id = meta.get("navigator_id")
            if not navigator_id:
                raise PermanentError("invalid_metadata", "Для сообщения о статусе нужен navigator_id")
            status = await self.report_status(navigator_id, outgoing.message_id, meta.get("status", ""), meta.get("reason"))
            return Outcome(status="delivered", external_id=navigator_id, detail={"status": status})
        body = mapping.push(outgoing)
        reply = await self._call("POST", "/api/v1/documents", json_body=body, idempotent=False)
        if reply.status not in (200, 201):
            raise self._refused(reply, "документ")
        try:
            data = reply.body["data"]
            navigator_id = str(data["navigator_id"])
        except (KeyError, TypeError):
            raise TransientError("malformed_reply", f"{TITLE}: ответ без navigator_id") from None
        return Outcome(
            status="accepted", external_id=navigator_id,
            detail={"navigator_id": navigator_id, "status": data.get("status"), "duplicate": bool(data.get("duplicate"))},
        )  # fmt: skip

    async def report_status(self, navigator_id: str, message_id: str, status: str, reason: str | None = None) -> str:
        """Tell the Navigator what became of a pushed document; its status there afterwards."""
        body = mapping.status_report(message_id, status, reason)
        reply = await self._call("POST", f"/api/v1/documents/{navigator_id}/status", json_body=body, idempotent=False)
        if reply.status != 200:
            raise self._refused(reply, "сообщение о статусе")
        try:
            return str(reply.body["data"]["status"])
        except (KeyError, TypeError):
            raise TransientError("malformed_reply", f"{TITLE}: ответ без статуса документа") from None

    async def correct_certificates(self, message_id: str, items: list[mapping.CertificateCorrection]) -> int:
        """Send corrections of certificate records (the issuer's data); how many the Navigator applied."""
        body = mapping.corrections_body(message_id, items)
        reply = await self._call("POST", "/api/v1/registries/certificates/corrections", json_body=body, idempotent=False)
        if reply.status != 200:
            raise self._refused(reply, "исправления реестра сертификатов")
        try:
            return int(reply.body["data"]["applied"])
        except (KeyError, TypeError, ValueError):
            raise TransientError("malformed_reply", f"{TITLE}: ответ без числа применённых исправлений") from None

    async def document_status(self, navigator_id: str) -> str:
        reply = await self._call("GET", f"/api/v1/documents/{navigator_id}", idempotent=True)
        if reply.status != 200:
            raise self._refused(reply, "запрос статуса")
        return str(reply.body["data"]["status"])

    # ------------------------------------------------------------------ pull
    async def _page(self, path: str, cursor: str | None, limit: int, make: Callable[[Any], T | None]) -> Page[T]:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        reply = await self._call("GET", path, params=params, idempotent=True)
        if reply.status != 200:
            raise self._refused(reply, "запрос")
        raw, next_cursor, more = mapping.page_items(reply.body)
        remaining = mapping.page_remaining(reply.body)
        del reply
        try:
            items = [x for x in (make(r) for r in raw) if x is not None]
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise TransientError("malformed_reply", f"{TITLE}: запись страницы не разобрана") from None
        return Page(items, next_cursor, more, remaining)

    async def changes_page(self, cursor: str | None = None, limit: int | None = None) -> Page[mapping.Change]:
        return await self._page("/api/v1/changes", cursor, min(limit or self.settings.page_size, 1000), mapping.change)

    async def registry_page(self, registry: Registry, cursor: str | None = None, limit: int | None = None) -> Page[Any]:
        make = mapping.RECORD_MAKERS[registry]
        return await self._page(f"/api/v1/registries/{registry}", cursor, limit or self.settings.page_size, make)

    async def changes(self, cursor: str | None = None, *, page_size: int | None = None) -> AsyncIterator[Page[mapping.Change]]:
        """Agreement signatures, contracts, enrolments and statuses after ``cursor``, page by page."""
        while True:
            page = await self.changes_page(cursor, page_size)
            cursor, more = page.cursor, page.has_more
            yield page
            del page
            if not more:
                return

    async def registry(
        self, registry: Registry, cursor: str | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[Page[Any]]:
        """Records of ``providers`` or ``certificates`` changed after ``cursor``, page by page."""
        while True:
            page = await self.registry_page(registry, cursor, page_size)
            cursor, more = page.cursor, page.has_more
            yield page
            del page
            if not more:
                return
