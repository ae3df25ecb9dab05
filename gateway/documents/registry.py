"""The seven document types: canonical ids, decree numbers D1–D7, models and XML root names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.documents.common import DocumentBase
from gateway.documents.consumer import ConsumerApplication, ServiceContract, SocialCertificate
from gateway.documents.order import OrderExecutionReport, SocialOrder
from gateway.documents.provider import CostAgreement, ProviderRegistryApplication

XML_NAMESPACE = "urn:social-order-gateway:documents:1.0"


@dataclass(frozen=True)
class DocumentType:
    id: str
    code: str  # D1..D7, the order of the decrees' list
    model: type[DocumentBase]
    xml_root: str
    title: str  # English, for the OpenAPI document

    @property
    def has_personal_data(self) -> bool:
        return bool(personal_fields(self.model))


DOCUMENT_TYPES: dict[str, DocumentType] = {
    t.id: t
    for t in (
        DocumentType("social_order", "D1", SocialOrder, "SocialOrder", "Municipal social order"),
        DocumentType(
            "order_execution_report", "D2", OrderExecutionReport, "OrderExecutionReport",
            "Report on execution of the social order",
        ),
        DocumentType(
            "provider_registry_application", "D3", ProviderRegistryApplication, "ProviderRegistryApplication",
            "Provider's application for inclusion in the provider registry",
        ),
        DocumentType("cost_agreement", "D4", CostAgreement, "CostAgreement", "Agreement on financing of costs"),
        DocumentType(
            "consumer_application", "D5", ConsumerApplication, "ConsumerApplication",
            "Consumer's application (enrolment and social certificate)",
        ),
        DocumentType("social_certificate", "D6", SocialCertificate, "SocialCertificate", "Social certificate"),
        DocumentType(
            "service_contract", "D7", ServiceContract, "ServiceContract",
            "Contract between provider and certificate holder",
        ),
    )
}  # fmt: skip

BY_XML_ROOT = {t.xml_root: t for t in DOCUMENT_TYPES.values()}


def personal_fields(model: type[Any]) -> list[str]:
    """Names of the model's top-level fields that hold personal data."""
    out = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get("x-personal-data"):
            out.append(name)
    return out
