"""The ``sign`` action: a CMS detached signature over the document's canonical XML.

Either the gateway signs with the acting organisation's server-side key (from the key
registry), or the caller brings a detached CMS signature made elsewhere (``signature``,
base64 DER), which is verified against the exact bytes, the trusted roots and the CRL,
and checked for qualification and for the signer's authority to act for the party.
The bytes signed first are kept and every later signature (the other party's) covers
the same bytes: the document is never re-rendered once signed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.context import Context
from gateway.documents.common import DocumentBase
from gateway.documents.xml_form import render
from gateway.municipalities import Profile, Role
from gateway.store.journal import utc_stamp
from gateway.workflow.problems import Problem, from_violations
from gateway.workflow.rules.actions import Actor
from gateway.workflow.rules.signatures import PartyIdentity, SignerFacts, check_signer, provider_party
from signing import cms
from signing.cms import CMSError, SignerReport


@dataclass(frozen=True)
class PreparedSignature:
    xml: bytes
    row: dict[str, Any]


def canonical_xml(row: Mapping[str, Any], profile: Profile) -> bytes:
    """The bytes every signature of the document covers: stored ones if it was signed before."""
    if row.get("signed_xml"):
        return bytes(row["signed_xml"])
    systems = [(s, profile.systems[s].name) for s in profile.routing.get(row["type"], [])]
    return render(row["type"], row["payload"], document_id=row["id"], municipality=row["municipality"], systems=systems)


def facts_of(report: SignerReport) -> SignerFacts:
    cert = report.certificate
    return SignerFacts(
        crypto_ok=report.crypto_ok,
        chain_ok=report.chain is not None and report.chain.ok,
        chain_message=(report.chain.message if report.chain is not None else "цепочка не проверялась"),
        policies=tuple(cert.policies) if cert else (),
        inn=cert.inn if cert else None,
        innle=cert.innle if cert else None,
        ogrn=cert.ogrn if cert else None,
        subject=cert.subject_text if cert else "",
    )


class DocumentSigning:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.keys = ctx.keys

    def party_of(self, actor: Actor, doc: DocumentBase, profile: Profile) -> PartyIdentity | None:
        """Whom the acting token signs for: the provider of the document, or its own organisation."""
        if actor.role is Role.provider:
            return provider_party(doc)
        identity = self.keys.identity_of(profile.id, actor.org, actor.role.value)
        if identity is not None:
            return PartyIdentity(identity.inn, identity.ogrn)
        org = profile.organisation(actor.org)
        if org is not None and org.acts_for is not None:
            identity = self.keys.identity_of(profile.id, org.acts_for, actor.role.value)
            if identity is not None:
                return PartyIdentity(identity.inn, identity.ogrn)
        return None

    async def prepare(
        self, actor: Actor, row: Mapping[str, Any], doc: DocumentBase, profile: Profile, body: Mapping[str, Any]
    ) -> PreparedSignature:
        xml = canonical_xml(row, profile)
        encoded = body.get("signature")
        if encoded is None:
            signer = await asyncio.to_thread(self.keys.signer_for, profile.id, actor.org, actor.role.value)
            if signer is None:
                raise Problem(
                    409, "signing_key_missing",
                    "Для организации не зарегистрирован ключ подписи на сервере; передайте открепленную подпись "
                    "в поле signature",
                )  # fmt: skip
            der = cms.sign_detached(xml, signer)
            source = "server"
        else:
            der = _decode(encoded)
            source = "external"
        if not self.keys.trusted:
            raise Problem(409, "trust_not_configured", "Не настроены доверенные корневые сертификаты (ca.pem)")
        try:
            # Certificates are checked at the real moment of signing, not at the business date of the clock.
            reports = cms.verify_detached(der, xml, trusted=self.keys.trusted, crl=self.keys.crls or None)
        except CMSError:
            raise Problem(422, "signature_malformed", "Подпись CMS повреждена или имеет неверный формат") from None
        if len(reports) != 1:
            raise Problem(422, "signature_signer_count", "Передайте подпись одного подписанта")
        report = reports[0]
        violations = check_signer(facts_of(report), self.party_of(actor, doc, profile))
        if violations:
            raise from_violations(422, violations, aggregate_code=None)
        cert = report.certificate
        assert cert is not None
        return PreparedSignature(
            xml=xml,
            row={
                "source": source,
                "signer_role": actor.role.value,
                "signer_org": actor.org,
                "subject": cert.common_name,
                "inn": cert.innle or cert.inn,
                "ogrn": cert.ogrn,
                "serial": format(cert.serial, "x"),
                "content_sha256": hashlib.sha256(xml).hexdigest(),
                "der": der,
                "signed_at": utc_stamp(self.ctx.clock.now()),
            },
        )


def _decode(encoded: Any) -> bytes:
    if not isinstance(encoded, str) or len(encoded) > 2_000_000:
        raise Problem(422, "signature_malformed", "Поле signature — строка base64 с подписью CMS (DER)")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "signature_malformed", "Поле signature не является корректной строкой base64") from None
