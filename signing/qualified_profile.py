"""Does a certificate have the form of a qualified certificate?  (pure, no I/O)

What is checked, and where it comes from:

* 63-FZ art. 17 part 2 and art. 14 part 3: the owner's identity.  A legal entity's
  certificate names the entity (name, location, OGRN, INN of the legal entity) and the
  person acting for it (surname, given names, SNILS), except a certificate for
  automatic signing in an information system, which may name no person; an individual's
  names the person with SNILS and INN; an entrepreneur's adds OGRNIP.
* FSB order No. 795 (requirements for the form of a qualified certificate, as amended
  by order No. 31 of 29.01.2021): the attribute types and their OIDs (INN
  ``1.2.643.3.131.1.1`` 12 digits, INNLE ``1.2.643.100.4`` 10 digits, OGRN
  ``1.2.643.100.1`` 13 digits, OGRNIP ``1.2.643.100.5`` 15 digits, SNILS
  ``1.2.643.100.3`` 11 digits), the location as countryName / stateOrProvinceName /
  localityName / streetAddress, key usage, the certificate policies naming the class of
  the signature tool (КС1 ``1.2.643.100.113.1`` … КА1 ``.6``) and the extensions
  subjectSignTool ``1.2.643.100.111`` and issuerSignTool ``1.2.643.100.112``.

The order's own text was not available to the authors when this was written; the list
above is the commonly implemented reading of it (attributes that accredited CAs put in
every qualified certificate).  Each failure names the attribute, so a refusal says
exactly what the certificate lacks.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from signing import oids
from signing.certificates import Certificate

__all__ = ["ProfileFailure", "check_qualified_profile", "owner_kind", "ATTRIBUTE_NAMES"]

# short name -> how it is called in Russian, with the X.509 type and OID
ATTRIBUTE_NAMES: dict[str, str] = {
    "CN": "общее имя (commonName, 2.5.4.3)",
    "SN": "фамилия (surname, 2.5.4.4)",
    "G": "имя и отчество (givenName, 2.5.4.42)",
    "O": "наименование организации (organizationName, 2.5.4.10)",
    "C": "страна (countryName, 2.5.4.6)",
    "ST": "субъект Российской Федерации (stateOrProvinceName, 2.5.4.8)",
    "L": "населённый пункт (localityName, 2.5.4.7)",
    "STREET": "улица, дом (streetAddress, 2.5.4.9)",
    "INN": f"ИНН физического лица (INN, {oids.INN})",
    "INNLE": f"ИНН юридического лица (INNLE, {oids.INNLE})",
    "OGRN": f"ОГРН (OGRN, {oids.OGRN})",
    "OGRNIP": f"ОГРНИП (OGRNIP, {oids.OGRNIP})",
    "SNILS": f"СНИЛС (SNILS, {oids.SNILS})",
}
_DIGITS = {"INN": 12, "INNLE": 10, "OGRN": 13, "OGRNIP": 15, "SNILS": 11}
_QUALIFIED_POLICIES = frozenset(oids.POLICY_NAMES)


class ProfileFailure(NamedTuple):
    """One requirement the certificate does not meet."""

    code: str  # stable, English: certificate_attribute_missing, certificate_attribute_invalid, ...
    attribute: str  # the attribute's short name or the extension's name
    message: str  # for people, in Russian; names the attribute, never its value


def owner_kind(cert: Certificate) -> str:
    """``legal_entity`` (INNLE or OGRN), ``entrepreneur`` (OGRNIP) or ``individual``."""
    if cert.subject.get("INNLE") or cert.subject.get("OGRN"):
        return "legal_entity"
    if cert.subject.get("OGRNIP"):
        return "entrepreneur"
    return "individual"


_REQUIRED: dict[str, tuple[str, ...]] = {
    "legal_entity": ("CN", "O", "C", "ST", "L", "STREET", "INNLE", "OGRN"),
    "entrepreneur": ("CN", "SN", "G", "C", "SNILS", "INN", "OGRNIP"),
    "individual": ("CN", "SN", "G", "C", "SNILS", "INN"),
}
_PERSON = ("SN", "G", "SNILS")  # the person acting for a legal entity
_OWNER_TEXT = {
    "legal_entity": "юридического лица",
    "entrepreneur": "индивидуального предпринимателя",
    "individual": "физического лица",
}


def _missing(attr: str, whose: str) -> ProfileFailure:
    return ProfileFailure(
        "certificate_attribute_missing", attr, f"в сертификате {whose} нет атрибута {attr}: {ATTRIBUTE_NAMES[attr]}"
    )


def check_qualified_profile(cert: Certificate, *, automatic: bool = False) -> list[ProfileFailure]:
    """Everything in which ``cert`` departs from the form of a qualified certificate; empty: none.

    ``automatic=True``: a legal entity's certificate for automatic signing in an
    information system (63-FZ art. 14 part 3), which need not name a person.
    """
    out: list[ProfileFailure] = []
    kind = owner_kind(cert)
    whose = _OWNER_TEXT[kind]
    required = _REQUIRED[kind] + (_PERSON if kind == "legal_entity" and not automatic else ())
    for attr in required:
        if not cert.subject.get(attr, "").strip():
            out.append(_missing(attr, whose))
    for attr, digits in _DIGITS.items():
        value = cert.subject.get(attr)
        if value is not None and value.strip() and not re.fullmatch(rf"\d{{{digits}}}", value):
            out.append(ProfileFailure(
                "certificate_attribute_invalid", attr,
                f"атрибут {attr} ({ATTRIBUTE_NAMES[attr]}) должен состоять из {digits} цифр",
            ))  # fmt: skip
    country = cert.subject.get("C")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        out.append(ProfileFailure(
            "certificate_attribute_invalid", "C",
            f"атрибут C ({ATTRIBUTE_NAMES['C']}) должен быть двухбуквенным кодом страны (RU)",
        ))  # fmt: skip
    for usage, text in (("digital_signature", "digitalSignature"), ("non_repudiation", "nonRepudiation")):
        if usage not in cert.key_usage:
            out.append(ProfileFailure(
                "certificate_key_usage_missing", f"keyUsage.{text}",
                f"в расширении keyUsage (2.5.29.15) не указано использование ключа {text}",
            ))  # fmt: skip
    if not _QUALIFIED_POLICIES & set(cert.policies):
        out.append(ProfileFailure(
            "certificate_policy_missing", "certificatePolicies",
            "в расширении certificatePolicies (2.5.29.32) нет класса средства электронной подписи "
            "(КС1…КА1, 1.2.643.100.113.1–6)",
        ))  # fmt: skip
    for oid, name, text in (
        (oids.SUBJECT_SIGN_TOOL, "subjectSignTool", "средство электронной подписи владельца"),
        (oids.ISSUER_SIGN_TOOL, "issuerSignTool", "средства электронной подписи и удостоверяющего центра издателя"),
    ):
        if oid not in cert.extensions:
            out.append(ProfileFailure(
                "certificate_extension_missing", name, f"в сертификате нет расширения {name} ({oid}): {text}"
            ))  # fmt: skip
    return out
