"""The ``sign`` action: a CMS detached signature over the document's canonical XML.

Either the gateway signs with the acting organisation's server-side key (from the key
registry), or the caller brings a detached CMS signature made elsewhere (``signature``,
base64 DER), which is verified against the exact bytes and the key ring's trust store
(trusted roots; revocation from the CRL distribution points, OCSP and ``ca.crl``, fetched
before the check; the revocation policy), and checked for qualification and for the
signer's authority to act for the party.  Under the ``soft`` policy a signature whose
revocation status could not be had is accepted and journaled (``revocation_unknown``).
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
from gateway.store import journal
from gateway.store.journal import utc_stamp
from gateway.workflow.powers_of_attorney import PowersOfAttorney, read_attached, signature_columns
from gateway.workflow.problems import Problem, from_violations
from gateway.workflow.rules.actions import Actor
from gateway.workflow.rules.signatures import PartyIdentity, SignerFacts, check_signer, provider_party
from signing import GostSigner, cms
from signing.cms import CMSError, SignerReport
from signing.qualified_profile import check_qualified_profile


@dataclass(frozen=True)
class PreparedSignature:
    xml: bytes
    row: dict[str, Any]
    #: Warnings to journal in the action's own transaction (a revocation status that could not be had).
    warnings: tuple[journal.Entry, ...] = ()


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
        snils=cert.snils if cert else None,
        profile_failures=tuple(check_qualified_profile(cert)) if cert else (),
    )


class DocumentSigning:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.keys = ctx.keys
        self._signers: dict[tuple[str, str, str], GostSigner] = {}  # loaded keys, by whom they sign for
        self._verified: dict[int, GostSigner] = {}  # keys whose signatures verified (by id, object kept)
        # An employee's МЧД: its own CMS is verified with the same trust material as the document's.
        self.powers_of_attorney = PowersOfAttorney(ctx, lambda der, data: self._verify(der, data, None))

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
        trust = self.keys.trust_store  # revocation read from its cache: prefetch_cms first
        if signer is not None and self._verified.get(id(signer)) is signer:
            cert = signer.certificate
            try:
                chain = trust.validate(cert, intermediates=[c for c in signer.chain if c is not cert])
            except (ValueError, KeyError, TypeError, IndexError) as exc:  # as cms.verify_detached reports them
                raise CMSError(f"подпись CMS повреждена: {exc}") from exc
            return [SignerReport(cert, digest_ok=True, signature_ok=True, chain=chain)]
        reports = cms.verify_detached(der, xml, trust=trust)
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
        attached = read_attached(body, external=encoded is not None)
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
        await self.keys.trust_store.prefetch_cms(der)  # CRLs / OCSP answers the check below reads from the cache
        try:
            # Certificates are checked at the real moment of signing, not at the business date of the clock.
            reports = self._verify(der, xml, signer)
        except CMSError:
            raise Problem(422, "signature_malformed", "Подпись CMS повреждена или имеет неверный формат") from None
        if len(reports) != 1:
            raise Problem(422, "signature_signer_count", "Передайте подпись одного подписанта")
        report = reports[0]
        facts, party = facts_of(report), self.party_of(actor, doc, profile)
        poa = await self.powers_of_attorney.judge(
            attached, doc_type=row["type"], action="sign", report=report, facts=facts, party=party
        )
        violations = check_signer(facts, party, poa)
        if violations:
            raise from_violations(422, violations, aggregate_code=None)
        cert = report.certificate
        assert cert is not None
        warned = revocation_warnings(report, document_id=row["id"], municipality=row["municipality"], actor=actor.label)
        return PreparedSignature(
            warnings=tuple(warned),
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
                **signature_columns(poa, attached),
            },
        )


REVOCATION_UNKNOWN = "revocation_unknown"


def revocation_warnings(report: SignerReport, *, document_id: str, municipality: str, actor: str) -> list[journal.Entry]:
    """Journal entries for a signature accepted although a revocation status could not be had (``soft`` policy)."""
    chain, cert = report.chain, report.certificate
    if chain is None or not chain.ok or not chain.warnings or cert is None:
        return []
    entries = []
    for warning in chain.warnings:
        reason, _, code = warning.rpartition(" [")
        entries.append(journal.entry(
            event=REVOCATION_UNKNOWN, actor=actor, document_id=document_id, municipality=municipality,
            details={"serial": format(cert.serial, "x"), "revocation": chain.revocation, "code": code.rstrip("]"),
                     "reason": reason or warning},
        ))  # fmt: skip
    return entries


def _decode(encoded: Any) -> bytes:
    if not isinstance(encoded, str) or len(encoded) > 2_000_000:
        raise Problem(422, "signature_malformed", "Поле signature — строка base64 с подписью CMS (DER)")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "signature_malformed", "Поле signature не является корректной строкой base64") from None
