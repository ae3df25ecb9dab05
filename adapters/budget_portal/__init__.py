"""budget.gov.ru (the unified budget portal): read registries, confirm a social order is published."""

from adapters.budget_portal.client import BudgetPortalClient, RegistryPage
from adapters.budget_portal.mapping import Publication

__all__ = ["BudgetPortalClient", "Publication", "RegistryPage"]
