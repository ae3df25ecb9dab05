"""What the emulated Electronic Budget remembers: registered packages and how they move on.

A package is ``REGISTERED`` on receipt; ``processing_delay_s`` later it is ``ACCEPTED``, or
``RETURNED`` for correction with reasons when the ``return_next`` knob is set (it counts
down, so "return once" is ``return_next=1``); ``publish_delay_s`` after acceptance it is
published to the budget portal (registry ``socialorders`` for D1, ``socialorderreports``
for D2) and becomes ``PUBLISHED``.  Time moves in :meth:`ElectronicBudgetState.advance`,
called by a ticker and before every answer, so a status is never stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from emulators.budget_portal.store import RegistryStore

log = logging.getLogger(__name__)

REGISTRIES = {"SOCIAL_ORDER": "socialorders", "EXECUTION_REPORT": "socialorderreports"}
DEFAULT_RETURN_REASONS = (
    ("VOLUME_MISMATCH", "Объёмы оказания услуг не соответствуют бюджетным ассигнованиям"),
)


class Publisher(Protocol):
    async def publish(self, registry: str, record: dict[str, Any]) -> dict[str, Any]: ...


class StorePublisher:
    """Publish into a portal store in the same process."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    async def publish(self, registry: str, record: dict[str, Any]) -> dict[str, Any]:
        return self.store.publish(registry, record)


class HttpPublisher:
    """Publish through the portal emulator's control API (the two run as separate processes)."""

    def __init__(self, portal_url: str) -> None:
        self.portal_url = portal_url.rstrip("/")

    async def publish(self, registry: str, record: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.portal_url}/_emulator/registries/{registry}/records"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.post(url, json=record) as resp:
                resp.raise_for_status()
                body: dict[str, Any] = await resp.json()
                return body


@dataclass
class Package:
    registration_number: str
    message_id: str
    kind: str
    number: str
    date: str
    year: int
    municipality: str
    submitter: dict[str, str]
    document_sha256: str
    registered_at: dt.datetime
    status: str = "REGISTERED"
    status_changed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    reasons: list[tuple[str, str]] = field(default_factory=list)
    publication: dict[str, str] | None = None
    correction_of: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "registration_number": self.registration_number, "message_id": self.message_id, "kind": self.kind,
            "number": self.number, "municipality": self.municipality, "status": self.status,
            "status_changed_at": self.status_changed_at.isoformat(), "reasons": [list(r) for r in self.reasons],
            "publication": self.publication, "correction_of": self.correction_of,
        }  # fmt: skip


class ElectronicBudgetState:
    def __init__(self, publisher: Publisher, *, processing_delay_s: float = 1.0, publish_delay_s: float = 1.0) -> None:
        self.publisher = publisher
        self.processing_delay_s = processing_delay_s
        self.publish_delay_s = publish_delay_s
        self.require_signature = True
        self.return_next = 0
        self.return_reasons: list[tuple[str, str]] = list(DEFAULT_RETURN_REASONS)
        self.packages: dict[str, Package] = {}
        self.by_message: dict[str, str] = {}
        self._seq = 0

    @staticmethod
    def digest(document: bytes) -> str:
        return hashlib.sha256(document).hexdigest()

    def register(self, data: dict[str, Any], document: bytes, now: dt.datetime) -> Package:
        self._seq += 1
        number = f"EB-{now.year}-{self._seq:08d}"
        package = Package(
            registration_number=number, message_id=data["message_id"], kind=data["kind"], number=data["number"],
            date=data["date"], year=int(data["year"]), municipality=data["municipality"], submitter=data["submitter"],
            document_sha256=self.digest(document), registered_at=now, status_changed_at=now,
            correction_of=data.get("correction_of"),
        )  # fmt: skip
        self.packages[number] = package
        self.by_message[package.message_id] = number
        return package

    def _move(self, package: Package, status: str, now: dt.datetime) -> None:
        package.status = status
        package.status_changed_at = now

    async def advance(self, now: dt.datetime | None = None) -> None:
        """Move every package whose time has come; a failed publication is tried again next time."""
        now = now or dt.datetime.now(dt.UTC)
        processing = dt.timedelta(seconds=self.processing_delay_s)
        publishing = dt.timedelta(seconds=self.publish_delay_s)
        for package in list(self.packages.values()):
            if package.status == "REGISTERED" and now - package.status_changed_at >= processing:
                if self.return_next > 0:
                    self.return_next -= 1
                    package.reasons = list(self.return_reasons)
                    self._move(package, "RETURNED", now)
                else:
                    self._move(package, "ACCEPTED", now)
            if package.status == "ACCEPTED" and now - package.status_changed_at >= publishing:
                try:
                    await self._publish(package, now)
                except Exception as exc:  # the portal may be down; try again on the next tick
                    log.warning("publication to the budget portal failed: %s", type(exc).__name__)

    async def _publish(self, package: Package, now: dt.datetime) -> None:
        registry = REGISTRIES[package.kind]
        record = {
            "id": f"{registry}-{package.registration_number}",
            "regnum": package.registration_number,
            "documentkind": package.kind,
            "documentnumber": package.number,
            "documentdate": package.date,
            "year": package.year,
            "municipality": package.municipality,
            "publishername": package.submitter.get("name", ""),
            "publisherinn": package.submitter.get("inn", ""),
            "publishdate": now.date().isoformat(),
            "publishdatetime": now.isoformat(timespec="seconds"),
            "status": "PUBLISHED",
        }
        row = await self.publisher.publish(registry, record)
        package.publication = {"registry": registry, "record_id": str(row["id"]), "published_at": now.isoformat()}
        self._move(package, "PUBLISHED", now)
