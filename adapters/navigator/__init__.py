"""The regional Navigator of additional education: push D3–D7, pull changes and registries by cursor."""

from adapters.navigator.client import NavigatorAdapter, Page
from adapters.navigator.mapping import (
    AgreementSignature,
    CertificateCorrection,
    CertificateRecord,
    Change,
    ContractConcluded,
    DocumentStatus,
    Enrolment,
    ProviderRecord,
)
from adapters.navigator.verify import verify_countersignature

__all__ = [
    "AgreementSignature", "CertificateCorrection", "CertificateRecord", "Change", "ContractConcluded", "DocumentStatus", "Enrolment",
    "NavigatorAdapter", "Page", "ProviderRecord", "verify_countersignature",
]  # fmt: skip
