"""GIIS «Электронный бюджет»: submit D1/D2 packages over SOAP (stand-in WSDL), read their status."""

from adapters.electronic_budget.client import ElectronicBudgetAdapter
from adapters.electronic_budget.mapping import ProcessingStatus, Publication, Reason

__all__ = ["ElectronicBudgetAdapter", "ProcessingStatus", "Publication", "Reason"]
