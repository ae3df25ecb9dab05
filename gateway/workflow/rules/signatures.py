"""Who may sign a document: a qualified signature of a person entitled to act for the party.

Livny it. 9 (docs/decrees.md §3.4, §9 scenario 2): documents exchanged through the four
systems are signed with the УКЭП of a person entitled to act for the authorized body or
the provider.  The facts about a verified signature come in as :class:`SignerFacts`
(from ``signing``), the party's identity from the document or the key registry; this
module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.documents.common import DocumentBase
from gateway.workflow.rules.violations import Violation

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


@dataclass(frozen=True)
class PartyIdentity:
    inn: str | None
    ogrn: str | None


def provider_party(doc: DocumentBase) -> PartyIdentity | None:
    provider = getattr(doc, "provider", None)
    if provider is None:
        return None
    return PartyIdentity(inn=provider.inn, ogrn=getattr(provider, "ogrn", None))


def check_signer(facts: SignerFacts, party: PartyIdentity | None) -> list[Violation]:
    """Violations of the signing rule for one signature; empty means the signature counts."""
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
    if not QUALIFIED_POLICIES & set(facts.policies) or not (facts.innle or facts.inn) or not facts.ogrn:
        out.append(
            Violation(
                "signature_not_qualified", "/signature",
                "Подпись не является усиленной квалифицированной: в сертификате нет класса средства КЭП, ИНН или ОГРН",
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
    elif party.inn not in {facts.innle, facts.inn} or (party.ogrn and facts.ogrn and party.ogrn != facts.ogrn):
        out.append(
            Violation(
                "signer_not_authorized", "/signature",
                "Владелец сертификата не действует от имени стороны документа: ИНН/ОГРН в сертификате не совпадают",
            )
        )  # fmt: skip
    return out
