"""Checking a provider's co-signature on an agreement before the gateway believes it.

The Navigator returns the agreement's CMS with the provider's SignerInfo added; it must
be over exactly the bytes the gateway pushed (its own copy of the signed XML, never bytes
from the Navigator), every SignerInfo must verify and chain to a trusted root, and one of
them must be the provider's (INN of the legal entity or of the entrepreneur).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.base import PermanentError
from adapters.navigator.mapping import AgreementSignature
from signing import cms
from signing.certificates import Certificate, RevocationList


def verify_countersignature(
    change: AgreementSignature,
    agreement_xml: bytes,
    *,
    trusted: Sequence[Certificate],
    crl: Sequence[RevocationList] = (),
    provider_inn: str | None = None,
    at: datetime | None = None,
) -> list[cms.SignerReport]:
    """Every signer's report; raises ``PermanentError("countersignature_invalid")`` unless all hold."""
    try:
        reports = cms.verify_detached(change.cms, agreement_xml, trusted=list(trusted), crl=list(crl), at=at)
    except cms.CMSError:
        raise PermanentError("countersignature_invalid", "Подпись соглашения из Навигатора не разобрана") from None
    for report in reports:
        if report.errors or not (report.digest_ok and report.signature_ok) or report.chain is None or not report.chain.ok:
            codes = ", ".join(report.codes or ([report.chain.code] if report.chain else ["invalid"]))
            raise PermanentError("countersignature_invalid", f"Подпись соглашения из Навигатора не верна ({codes})")
    if provider_inn is not None and not any(
        r.certificate is not None and provider_inn in (r.certificate.innle, r.certificate.inn) for r in reports
    ):
        raise PermanentError("countersignature_not_provider", "Соглашение не подписано исполнителем услуг")
    return reports
