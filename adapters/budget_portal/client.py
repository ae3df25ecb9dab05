"""The read side of budget.gov.ru: open-data registries, paged, and the social order's publication.

Registry API as public client code uses it (see ``docs/protocols.md``): ``GET /epbs/registry/<registry>/data``
with ``pageSize``/``pageNum`` and ``filter<field>=value``, answering ``{data, recordCount}``.
Reads are idempotent, so they get the settings' ``read_attempts``.  Pages are fetched one
at a time: :meth:`BudgetPortalClient.pages` yields each page before asking for the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import PermanentError, TransientError
from adapters.budget_portal import mapping
from adapters.config import BudgetPortalSettings
from adapters.http import JsonClient

TITLE = "Единый портал бюджетной системы"


@dataclass(frozen=True)
class RegistryPage:
    data: list[dict[str, Any]]
    record_count: int
    page_num: int
    page_size: int


class BudgetPortalClient:
    """Reads budget.gov.ru registries; not an :class:`~adapters.base.Adapter` (nothing is delivered)."""

    system = "budget_portal"

    def __init__(self, settings: BudgetPortalSettings) -> None:
        self.settings = settings
        self.http = JsonClient(self.system, TITLE, settings)

    def state(self) -> str:
        """Circuit breaker state, for ``/readyz`` and metrics."""
        return self.http.resilience.state()

    async def close(self) -> None:
        await self.http.close()

    async def page(
        self, registry: str, page_num: int = 1, page_size: int | None = None, filters: Mapping[str, str] | None = None
    ) -> RegistryPage:
        size = page_size or self.settings.page_size
        params = {"pageSize": str(size), "pageNum": str(page_num)}
        params.update({f"filter{k}": v for k, v in (filters or {}).items()})
        reply = await self.http.request("GET", f"/epbs/registry/{registry}/data", params=params, idempotent=True)
        if reply.status == 404:
            raise PermanentError("registry_not_found", f"{TITLE}: реестр {registry} не найден")
        if reply.status >= 400:
            code = reply.body.get("error", "bad_request") if isinstance(reply.body, dict) else "bad_request"
            raise PermanentError(str(code)[:64], f"{TITLE}: запрос к реестру {registry} отклонён (HTTP {reply.status})")
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not isinstance(body.get("recordCount"), int):
            raise TransientError("malformed_reply", f"{TITLE}: ответ без data/recordCount")
        return RegistryPage(body["data"], body["recordCount"], page_num, size)

    async def pages(
        self, registry: str, *, page_size: int | None = None, filters: Mapping[str, str] | None = None
    ) -> AsyncIterator[RegistryPage]:
        """Every page of a registry in turn, fetched only when the previous one has been consumed."""
        page_num = 1
        while True:
            page = await self.page(registry, page_num, page_size, filters)
            if page.data:
                yield page
            if not page.data or page_num * page.page_size >= page.record_count:
                return
            page_num += 1

    async def find_publication(self, registration_number: str, *, report: bool = False) -> mapping.Publication | None:
        """The published record of an Electronic Budget package, or ``None`` while it is not published."""
        registry = self.settings.reports_registry if report else self.settings.social_orders_registry
        page = await self.page(registry, 1, 10, mapping.publication_filter(registration_number))
        for record in page.data:
            publication = mapping.publication(registry, record)
            if publication is not None and publication.registration_number == registration_number:
                return publication
        return None

    async def confirm_published(self, registration_number: str, *, report: bool = False) -> mapping.Publication:
        """Confirm the social order (or, with ``report``, its execution report) is published; its date is in the result.

        Raises :class:`TransientError` ``not_published_yet`` while it is not, so a caller polling
        on the transport's retry tiers simply tries again later.
        """
        publication = await self.find_publication(registration_number, report=report)
        if publication is None:
            raise TransientError("not_published_yet", f"{TITLE}: документ {registration_number} ещё не опубликован")
        return publication
