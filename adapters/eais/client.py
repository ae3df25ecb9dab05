"""The EAIS DO adapter: pushes data packages (providers, programmes, certificates, contracts/coverage).

One package per outgoing document, ``packageId`` derived from the message id so that a
redelivered message is recognised as the same package: EAIS DO answers it with the first
result (``duplicate``), which is a success.  A refused package is permanent with the first
reason's code and every reason's place (never a value) in the detail.

``package_id_conflict`` (the same ``packageId`` with another body) on a document's delivery
is checked against the package EAIS DO holds: the ``packageId`` is a function of our message
id only, and a message's stored body never changes, so an accepted package under that id is
an earlier delivery of this same message whose ``lastmodifiedTs`` an earlier version of
this adapter took from the clock.  The message has been applied, so it is delivered;
anything else stays a permanent refusal.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.config import EaisSettings
from adapters.eais import mapping
from adapters.http import JsonClient, describe_errors, remote_errors

TITLE = "ЕАИС ДО"
CONFLICT = "package_id_conflict"
log = logging.getLogger("adapters.eais")


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
        body = mapping.package(outgoing, self.settings.datasource)
        try:
            result = await self.push_package(body)
        except PermanentError as exc:
            if exc.code != CONFLICT:
                raise
            result = await self._applied_before(str(body["package"]["packageId"]), exc)
        return Outcome(status="delivered", external_id=result["packageId"], detail=result)

    async def _applied_before(self, package_id: str, refusal: PermanentError) -> dict[str, Any]:
        """The stored result of an earlier delivery of the same message, or ``refusal`` raised again."""
        reply = await self.http.request("GET", f"/api/v1/packages/{package_id}", headers=self._headers(), idempotent=True)
        if reply.status != 200 or not isinstance(reply.body, dict) or reply.body.get("status") != "accepted":
            raise refusal
        log.warning("eais package %s was applied by an earlier delivery with another timestamp: delivered", package_id)
        return {"packageId": package_id, "results": reply.body.get("results", {}), "duplicate": True, "conflict": True}

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
