"""The ЭП-ОВ check of every incoming request, with SMEV's verdicts (SignatureVerificationFault).

Verification itself is :func:`signing.xmldsig.verify` (the same profile SMEV uses); this
module decides which fault a failed report becomes, the way real SMEV words it
("SMEV-100:…"): no signature → NoSignatureFound, a signature over another element →
IncorrectSignatureTarget, broken digest or value or a revoked certificate →
SignatureIsInvalid, an unknown issuer → CertificateIsNotFound, an expired one →
CertificateIsExpired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from emulators.smev3.faults import SmevFault
from emulators.smev3.protocol import DS_NS
from signing.certificates import Certificate, RevocationList
from signing.xmldsig import SignatureReport, verify


@dataclass
class Trust:
    """The roots and CRLs SMEV checks ЭП-ОВ certificates against."""

    anchors: list[Certificate]
    crls: list[RevocationList]


_TARGET = {"reference_missing", "duplicate_id", "wrapping", "unexpected_element", "reference_uri", "references"}


def _fault(enum: str, text: str) -> SmevFault:
    return SmevFault("SignatureVerificationFault", text, signature_fault=enum)


def check_caller(xml: bytes, op: etree._Element, signed: str, trust: Trust, at: datetime | None = None) -> tuple[Certificate, etree._Element]:
    """Verify CallerInformationSystemSignature over ``signed``; the certificate and the verified element."""
    wrapper = next((c for c in op if isinstance(c.tag, str) and etree.QName(c).localname == "CallerInformationSystemSignature"), None)
    if wrapper is None or wrapper.find(f"{{{DS_NS}}}Signature") is None:
        raise _fault("NoSignatureFound", "Отсутствует ЭП-ОВ в запросе")
    reports: Sequence[SignatureReport] = verify(xml, trusted=trust.anchors, crl=trust.crls, at=at, expect_signed={signed})
    report = next((r for r in reports if r.container == str(wrapper.tag)), None)
    if report is None:
        raise _fault("NoSignatureFound", "Отсутствует ЭП-ОВ в запросе")
    if set(report.codes) & _TARGET:
        raise _fault("IncorrectSignatureTarget", "ЭП-ОВ сформирована не над тем элементом запроса")
    if not report.crypto_ok or report.signed_element is None or report.certificate is None:
        raise _fault("SignatureIsInvalid", "ЭП-ОВ не прошла проверку: содержимое изменено после подписания или подпись повреждена")
    chain = report.chain
    if chain is not None and not chain.ok:
        if chain.code in ("expired", "not_yet_valid"):
            raise _fault("CertificateIsExpired", "Срок действия сертификата ЭП-ОВ истёк или ещё не наступил")
        if chain.code == "revoked":
            raise _fault("SignatureIsInvalid", "Сертификат ЭП-ОВ отозван")
        if chain.code in ("crl_invalid", "crl_expired"):
            raise _fault("SignatureIsInvalid", "Статус сертификата ЭП-ОВ не удалось проверить (список отзыва)")
        raise _fault("CertificateIsNotFound", "Сертификат ЭП-ОВ не найден: издатель не является доверенным")
    return report.certificate, report.signed_element


def check_sender(xml: bytes, signed: str, trust: Trust) -> dict[str, object]:
    """What EPGU finds when it checks the ЭП-ОВ of a response it received (for ``/epgu/statuses``)."""
    reports = verify(xml, trusted=trust.anchors, crl=trust.crls, expect_signed={signed})
    report = next((r for r in reports if r.signed_name == signed), None)
    if report is None:
        return {"ok": False, "codes": ["missing"], "signer": None}
    codes = list(report.codes) + ([report.chain.code] if report.chain is not None and not report.chain.ok else [])
    return {"ok": report.ok, "codes": codes, "signer": report.certificate.common_name if report.certificate else None}
