"""The EAIS DO adapter: pushes data packages (providers, programmes, certificates, contracts/coverage).

One package per outgoing document, ``packageId`` derived from the message id so that a
redelivered message is recognised as the same package.  A refused package is permanent
with the first reason's code and every reason's place (never a value) in the detail.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.config import EaisSettings
from adapters.eais import mapping
from adapters.http import JsonClient, describe_errors, remote_errors

TITLE = "ЕАИС ДО"


class EaisAdapter(Adapter):
    system: ClassVar[str] = "eais_do"

    def __init__(self, settings: EaisSettings) -> None:
        self.settings = settings
        self.http = JsonClient("eais", TITLE, settings)

    def state(self) -> str:
        """Circuit breaker state, for ``/readyz`` and metrics."""
        return self.http.resilience.state()

    async def close(self) -> None:
        await self.http.close()

    def _headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.settings.api_key.get_secret_value()}

    async def deliver(self, outgoing: Outgoing) -> Outcome:
        """Send the document's objects as one package; ``delivered`` with the package id."""
        result = await self.push_package(mapping.package(outgoing, self.settings.datasource))
        return Outcome(status="delivered", external_id=result["packageId"], detail=result)

    async def push_package(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send a ready package body ``{"package": {...}}`` (also for bulk loads built elsewhere)."""
        reply = await self.http.request("POST", "/api/v1/packages", json_body=body, headers=self._headers())
        if reply.status == 401:
            raise PermanentError("unauthorized", f"{TITLE}: ключ доступа не принят")
        if reply.status != 200:
            errors = remote_errors(reply.body)
            code = reply.body.get("code") if isinstance(reply.body, dict) else None
            raise PermanentError(str(code or f"http_{reply.status}")[:64], f"{TITLE} отклонила пакет: {describe_errors(errors)}")
        if not isinstance(reply.body, dict) or reply.body.get("status") != "accepted":
            raise TransientError("malformed_reply", f"{TITLE}: ответ без статуса пакета")
        return {"packageId": reply.body.get("packageId"), "results": reply.body.get("results", {}),
                "duplicate": bool(reply.body.get("duplicate"))}  # fmt: skip

    async def get_object(self, kind: str, object_uuid: str) -> dict[str, Any] | None:
        """One stored object (``partners``, ``programs``, ``certificates``, ``contracts``), or ``None``."""
        reply = await self.http.request("GET", f"/api/v1/objects/{kind}/{object_uuid}", headers=self._headers(),
                                        idempotent=True)  # fmt: skip
        if reply.status == 404:
            return None
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise PermanentError(f"http_{reply.status}", f"{TITLE}: запрос объекта отклонён")
        return reply.body
