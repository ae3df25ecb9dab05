"""Who may sign a document: a qualified signature of a person entitled to act for the party.

Livny it. 9 (docs/decrees.md §3.4, §9 scenario 2): documents exchanged through the four
systems are signed with the УКЭП of a person entitled to act for the authorized body or
the provider.  The facts about a verified signature come in as :class:`SignerFacts`
(from ``signing``), the party's identity from the document or the key registry; this
module only decides.

An employee signs with a personal qualified certificate (the person's INN and SNILS, no
INNLE/OGRN of the organisation) and proves the authority with a machine-readable power of
attorney (МЧД) issued by the party.  The МЧД is judged by
:func:`signing.power_of_attorney.check_power_of_attorney`; its outcome (or why the file is
not an МЧД) comes in here as :data:`PoaOutcome` and replaces the ``signer_not_authorized``
refusal: the signature counts when the МЧД holds, and the МЧД's own failures refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.documents.common import DocumentBase
from gateway.workflow.rules.violations import Violation
from signing.power_of_attorney import PoaCheck, PoaFormatError

# Qualified-certificate classes of the FSB requirements: КС1, КС2, КС3, КВ1, КВ2, КА1.
QUALIFIED_POLICIES = frozenset(f"1.2.643.100.113.{n}" for n in range(1, 7))


@dataclass(frozen=True)
class SignerFacts:
    crypto_ok: bool
    chain_ok: bool
    chain_message: str
    policies: tuple[str, ...]
    inn: str | None  # INN of a natural person or entrepreneur
    innle: str | None  # INN of the legal entity
    ogrn: str | None
    subject: str
    snils: str | None = None  # a natural person's (the owner of a personal certificate)
    # (code, attribute, message) of each departure from the form of a qualified certificate
    # (signing.qualified_profile); empty when it has that form or was not checked
    profile_failures: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class PartyIdentity:
    inn: str | None
    ogrn: str | None


def provider_party(doc: DocumentBase) -> PartyIdentity | None:
    provider = getattr(doc, "provider", None)
    if provider is None:
        return None
    return PartyIdentity(inn=provider.inn, ogrn=getattr(provider, "ogrn", None))


#: The МЧД as judged for this signature, or why the attached file is not one.
PoaOutcome = PoaCheck | PoaFormatError

POA_POINTER = "/power_of_attorney"
POA_SIGNATURE_POINTER = "/power_of_attorney_signature"
_SIGNATURE_CODES = frozenset({"poa_signature_invalid", "poa_not_by_head"})


def is_qualified(facts: SignerFacts) -> bool:
    """A class of qualified signature tool, and the owner identified: by an INN (of the organisation
    or the person) and by the OGRN or, in a person's certificate, the SNILS (63-FZ art. 17)."""
    owner = bool(facts.innle or facts.inn) and bool(facts.ogrn or facts.snils)
    return bool(QUALIFIED_POLICIES & set(facts.policies)) and owner


def acts_for(facts: SignerFacts, party: PartyIdentity | None) -> bool:
    """Whether the certificate itself names the party (its INN, and its OGRN when both are known)."""
    if party is None or party.inn is None:
        return False
    return party.inn in {facts.innle, facts.inn} and not (party.ogrn and facts.ogrn and party.ogrn != facts.ogrn)


def poa_violations(outcome: PoaOutcome) -> list[Violation]:
    """The МЧД's failures as violations: its signature's at ``/power_of_attorney_signature``, the rest at ``/power_of_attorney``."""
    if isinstance(outcome, PoaFormatError):
        return [Violation(outcome.code, POA_POINTER, f"Файл МЧД не принят: {outcome.message}")]
    return [
        Violation(f.code, POA_SIGNATURE_POINTER if f.code in _SIGNATURE_CODES else POA_POINTER, f.message)
        for f in outcome.failures
    ]


def check_signer(facts: SignerFacts, party: PartyIdentity | None, poa: PoaOutcome | None = None) -> list[Violation]:
    """Violations of the signing rule for one signature; empty means the signature counts.

    ``poa``: the МЧД attached to the signature, judged; it matters only when the certificate
    does not itself name the party.
    """
    if not facts.crypto_ok:
        return [Violation("signature_invalid", "/signature", "Подпись не соответствует документу или повреждена")]
    out: list[Violation] = []
    if not facts.chain_ok:
        out.append(
            Violation(
                "signature_chain_invalid", "/signature",
                f"Сертификат подписи не действителен: {facts.chain_message}",
            )
        )  # fmt: skip
    if facts.profile_failures:
        out.extend(
            Violation("signature_not_qualified", "/signature",
                      f"Сертификат подписи не имеет формы квалифицированного: {message}")
            for _code, _attribute, message in facts.profile_failures
        )  # fmt: skip
    elif not is_qualified(facts):
        out.append(
            Violation(
                "signature_not_qualified", "/signature",
                "Подпись не является усиленной квалифицированной: в сертификате нет класса средства КЭП "
                "или реквизитов владельца (ИНН ЮЛ и ОГРН организации либо ИНН и СНИЛС физического лица)",
            )
        )  # fmt: skip
    if party is None or party.inn is None:
        out.append(
            Violation(
                "signer_authority_unknown", "/signature",
                "Не настроены реквизиты организации, от имени которой подписывается документ; "
                "полномочия подписанта проверить нельзя",
            )
        )  # fmt: skip
    elif acts_for(facts, party):
        pass
    elif poa is not None:
        out.extend(poa_violations(poa))
    else:
        out.append(
            Violation(
                "signer_not_authorized", "/signature",
                "Владелец сертификата не действует от имени стороны документа: ИНН/ОГРН в сертификате не совпадают; "
                "сотрудник подписывает с машиночитаемой доверенностью (поле power_of_attorney)",
            )
        )  # fmt: skip
    return out
