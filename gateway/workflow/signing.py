"""The ``sign`` action: a CMS detached signature over the document's canonical XML.

Either the gateway signs with the acting organisation's server-side key (from the key
registry), or the caller brings a detached CMS signature made elsewhere (``signature``,
base64 DER), which is verified against the exact bytes, the trusted roots and the CRL,
and checked for qualification and for the signer's authority to act for the party.
The bytes signed first are kept and every later signature (the other party's) covers
the same bytes: the document is never re-rendered once signed.

A signature the gateway makes with a server-side key is checked like one brought by the
caller, except that the cryptographic check of its value is done once per key: the same
code with the same key over other bytes cannot give another verdict.  Its certificate's
chain, revocation and authority are checked every time.
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
from signing import GostSigner, cms
from signing.chain import validate_chain
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
        self._signers: dict[tuple[str, str, str], GostSigner] = {}  # loaded keys, by whom they sign for
        self._verified: dict[int, GostSigner] = {}  # keys whose signatures verified (by id, object kept)

    async def _signer(self, municipality: str, org: str, role: str) -> GostSigner | None:
        """The server-side key; loaded (files, decryption) in a thread the first time only."""
        key = (municipality, org, role)
        signer = self._signers.get(key)
        if signer is None:
            signer = await asyncio.to_thread(self.keys.signer_for, municipality, org, role)
            if signer is not None:
                self._signers[key] = signer
        return signer

    def _verify(self, der: bytes, xml: bytes, signer: GostSigner | None) -> list[SignerReport]:
        """Reports on ``der`` over ``xml``; ``signer``: the server-side key that has just made it."""
        trusted, crls = self.keys.trusted, self.keys.crls
        if signer is not None and self._verified.get(id(signer)) is signer:
            cert = signer.certificate
            try:
                chain = validate_chain(cert, trusted, intermediates=[c for c in signer.chain if c is not cert], crls=crls)
            except (ValueError, KeyError, TypeError, IndexError) as exc:  # as cms.verify_detached reports them
                raise CMSError(f"подпись CMS повреждена: {exc}") from exc
            return [SignerReport(cert, digest_ok=True, signature_ok=True, chain=chain)]
        reports = cms.verify_detached(der, xml, trusted=trusted, crl=crls or None)
        if signer is not None and len(reports) == 1 and reports[0].crypto_ok:
            self._verified[id(signer)] = signer
        return reports

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
        signer: GostSigner | None = None
        if encoded is None:
            signer = await self._signer(profile.id, actor.org, actor.role.value)
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
            reports = self._verify(der, xml, signer)
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
