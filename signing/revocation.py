"""Revocation of a certificate: what a CRL or an OCSP answer says, checked; no I/O.

Holds the one verdict type, :class:`RevocationStatus` (good, revoked, unknown to the
responder, or unavailable with the reason), the CRL check (the issuer's signature, the
dates, the serial), OCSP request building (RFC 6960 CertID hashed with Streebog-256) and
the OCSP response check (signed by the CA itself or by a responder certificate the CA
issued for OCSP signing, the nonce when both sides have one, thisUpdate/nextUpdate, the
certificate's status).  Fetching, caching and refreshing live in
:mod:`signing.revocation_source`; :mod:`signing.trust_store` combines the verdicts with
the certificate path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from asn1crypto import algos, core, ocsp

from signing import gost_asn1, oids
from signing.backend import Backend, get_backend
from signing.certificates import Certificate, RevocationList, parse_certificate
from signing.chain import public_key, verify_signed_by

__all__ = [
    "OCSP_SIGNING",
    "key_hash",
    "RevocationError",
    "RevocationStatus",
    "State",
    "build_ocsp_request",
    "cert_id",
    "check_crl",
    "check_ocsp",
    "combine",
    "status_at",
    "crl_signed_by",
    "ocsp_nonce",
]

OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"
OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2"
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_OCSP_LIFETIME = timedelta(hours=1)  # an answer without nextUpdate is kept this long at most

State = Literal["good", "revoked", "unknown", "unavailable"]

_REASONS_RU = {
    "unspecified": "не указана",
    "key_compromise": "компрометация ключа",
    "ca_compromise": "компрометация ключа УЦ",
    "affiliation_changed": "изменились сведения о владельце",
    "superseded": "сертификат заменён",
    "cessation_of_operation": "прекращение деятельности",
    "certificate_hold": "действие приостановлено",
    "remove_from_crl": "исключён из списка отзыва",
    "privilege_withdrawn": "полномочия отозваны",
    "aa_compromise": "компрометация ключа издателя атрибутов",
}


class RevocationError(ValueError):
    """An answer that cannot be read at all (not DER of the expected structure)."""


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """One certificate's revocation at one moment, as one source (or several, combined) says.

    ``state``: ``good`` | ``revoked`` | ``unknown`` (the OCSP responder does not know the
    certificate) | ``unavailable`` (nothing current could be had; ``code`` and ``reason``
    say why).  ``code`` is a stable English word, ``reason`` Russian.  ``valid_until``:
    when this verdict stops being current (the nextUpdate of the evidence).  ``source``:
    where it comes from (``crl http://…``, ``ocsp http://…``, ``file ca.crl``).
    Equal values mean the same evidence, so a validation cache can key on them.
    """

    state: State
    code: str
    reason: str = ""
    source: str = ""
    valid_until: datetime | None = None
    this_update: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @classmethod
    def good(cls, source: str, this_update: datetime | None, valid_until: datetime | None) -> RevocationStatus:
        return cls("good", "ok", "", source, valid_until, this_update)

    @classmethod
    def revoked(
        cls,
        source: str,
        revoked_at: datetime,
        revocation_reason: str | None = None,
        this_update: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> RevocationStatus:
        why = f", причина: {_REASONS_RU.get(revocation_reason, revocation_reason)}" if revocation_reason else ""
        reason = f"сертификат отозван {revoked_at:%d.%m.%Y %H:%M} UTC{why} (источник: {source})"
        return cls("revoked", "revoked", reason, source, valid_until, this_update, revoked_at, revocation_reason)

    @classmethod
    def unknown(cls, source: str, this_update: datetime | None, valid_until: datetime | None) -> RevocationStatus:
        reason = f"ответчик OCSP не знает этот сертификат (источник: {source})"
        return cls("unknown", "ocsp_unknown", reason, source, valid_until, this_update)

    @classmethod
    def unavailable(cls, code: str, reason: str, source: str = "") -> RevocationStatus:
        return cls("unavailable", code, reason, source)

    @property
    def ok(self) -> bool:
        return self.state == "good"

    def current_at(self, at: datetime) -> bool:
        """Whether the evidence still speaks for ``at`` (not past its nextUpdate)."""
        return self.valid_until is None or at <= self.valid_until

    def __str__(self) -> str:
        return f"{self.reason or self.state} [{self.code}]"


def combine(statuses: Iterable[RevocationStatus | None], *, no_source: str = "") -> RevocationStatus:
    """One verdict from several sources: revoked anywhere wins, then good, then unknown, then unavailable.

    ``None`` entries (a source that does not speak for this certificate) are skipped;
    with nothing left, ``unavailable`` with code ``revocation_unavailable``.
    """
    got = [s for s in statuses if s is not None]
    for state in ("revoked", "good", "unknown"):
        found = [s for s in got if s.state == state]
        if found:
            # the freshest evidence of that kind
            return max(found, key=lambda s: s.this_update or datetime.min.replace(tzinfo=UTC))
    if got:
        if len(got) == 1:
            return got[0]
        reason = "; ".join(s.reason for s in got)
        return RevocationStatus.unavailable(got[0].code, reason, ", ".join(s.source for s in got if s.source))
    reason = "статус отзыва сертификата негде узнать: в сертификате нет точек распространения списков отзыва и OCSP"
    if no_source:
        reason += f", {no_source}"
    return RevocationStatus.unavailable("revocation_unavailable", reason)


def status_at(status: RevocationStatus, at: datetime) -> RevocationStatus:
    """A verdict checked once (an OCSP answer) as it speaks for ``at``.

    Revoked after ``at``: good until the revocation; good or unknown past its
    nextUpdate: ``unavailable`` (``ocsp_expired``); anything else unchanged.
    """
    if status.state == "revoked":
        if status.revoked_at is not None and status.revoked_at > at:
            until = status.revoked_at if status.valid_until is None else min(status.valid_until, status.revoked_at)
            return RevocationStatus.good(status.source, status.this_update, until)
        return status
    if status.state in ("good", "unknown") and status.valid_until is not None and status.valid_until < at:
        return RevocationStatus.unavailable(
            "ocsp_expired",
            f"ответ OCSP устарел: следующее обновление ожидалось {status.valid_until:%d.%m.%Y %H:%M} UTC "
            f"(источник: {status.source})",
            status.source,
        )
    return status


# ---------------------------------------------------------------- CRL

_crl_verified: dict[tuple[bytes, bytes, bytes], bool] = {}


def crl_signed_by(crl: RevocationList, issuer: Certificate, backend: Backend | None = None) -> bool:
    """The CRL names ``issuer`` and carries its signature (remembered: the same CRL is met again and again)."""
    if crl.issuer_der != issuer.subject_der:
        return False
    key = (crl.tbs, crl.signature, issuer.public_key_info)
    ok = _crl_verified.get(key)
    if ok is None:
        if len(_crl_verified) > 1024:
            _crl_verified.clear()
        ok = _crl_verified[key] = verify_signed_by(crl.tbs, crl.signature, crl.signature_algorithm, issuer, backend)
    return ok


def check_crl(
    crl: RevocationList,
    cert: Certificate,
    issuer: Certificate,
    at: datetime,
    *,
    source: str,
    backend: Backend | None = None,
) -> RevocationStatus | None:
    """What ``crl`` says of ``cert`` at ``at``; ``None`` when it is another issuer's list.

    A list issued after ``at`` still speaks for it (a later list is better evidence:
    it shows whether the certificate was revoked before ``at``).  A list past its
    nextUpdate at ``at`` is ``unavailable`` (``crl_expired``); a bad signature is
    ``unavailable`` (``crl_invalid``).
    """
    if crl.issuer_der != cert.issuer_der or crl.issuer_der != issuer.subject_der:
        return None
    if not crl_signed_by(crl, issuer, backend):
        return RevocationStatus.unavailable("crl_invalid", f"подпись списка отзыва не верна (источник: {source})", source)
    revoked_at = crl.revoked.get(cert.serial)
    if revoked_at is not None and revoked_at <= at:
        return RevocationStatus.revoked(source, revoked_at, crl.reasons.get(cert.serial), crl.this_update)
    if crl.next_update is not None and crl.next_update < at:
        return RevocationStatus.unavailable(
            "crl_expired",
            f"список отзыва устарел: следующее обновление ожидалось {crl.next_update:%d.%m.%Y %H:%M} UTC (источник: {source})",
            source,
        )
    if revoked_at is None:
        until = crl.next_update
    else:  # revoked after ``at``: good until just before then
        until = min(revoked_at - timedelta(microseconds=1), crl.next_update or revoked_at)
    return RevocationStatus.good(source, crl.this_update, until)


# ---------------------------------------------------------------- OCSP


def _hash(algorithm: str, data: bytes, backend: Backend) -> bytes:
    if algorithm in ("streebog256", "streebog512"):
        return backend.digest(algorithm, data)
    return hashlib.new(algorithm, data).digest()


def _key_bits(spki_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's value (the hash input of issuerKeyHash and byKey)."""
    return cast(bytes, gost_asn1.PublicKeyInfo.load(spki_der)["public_key"].contents[1:])


def key_hash(cert: Certificate) -> bytes:
    """SHA-1 of the certificate's subjectPublicKey: an OCSP responder's ``byKey`` identifier (RFC 6960)."""
    return hashlib.sha1(_key_bits(cert.public_key_info), usedforsecurity=False).digest()


_HASH_OIDS = {oids.STREEBOG256: "streebog256", oids.STREEBOG512: "streebog512", "1.3.14.3.2.26": "sha1",
              "2.16.840.1.101.3.4.2.1": "sha256"}  # fmt: skip


def cert_id(cert: Certificate, issuer: Certificate, backend: Backend | None = None, hash_oid: str = oids.STREEBOG256) -> ocsp.CertId:
    """RFC 6960 CertID of ``cert``: hashes of the issuer's name and key (Streebog-256 by default)."""
    b = backend or get_backend()
    name = _HASH_OIDS[hash_oid]
    return ocsp.CertId(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_oid}),
            "issuer_name_hash": _hash(name, issuer.subject_der, b),
            "issuer_key_hash": _hash(name, _key_bits(issuer.public_key_info), b),
            "serial_number": cert.serial,
        }
    )


def build_ocsp_request(
    cert: Certificate, issuer: Certificate, *, nonce: bytes | None = None, backend: Backend | None = None
) -> bytes:
    """DER of an unsigned OCSP request for ``cert`` (POSTed as ``application/ocsp-request``)."""
    tbs: dict[str, Any] = {"request_list": [{"req_cert": cert_id(cert, issuer, backend)}]}
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}]
    return cast(bytes, ocsp.OCSPRequest({"tbs_request": tbs}).dump())


def ocsp_nonce(request_der: bytes) -> bytes | None:
    """The nonce a request carries (to check the answer against), if any."""
    req = ocsp.OCSPRequest.load(request_der)
    for ext in req["tbs_request"]["request_extensions"]:
        if ext["extn_id"].dotted == OCSP_NONCE:
            return cast(bytes, ext["extn_value"].parsed.native)
    return None


def _time(value: Any) -> datetime:
    t = cast(datetime, value.native)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _same_id(ours: ocsp.CertId, theirs: ocsp.CertId) -> bool:
    return bool(
        ours["issuer_name_hash"].native == theirs["issuer_name_hash"].native
        and ours["issuer_key_hash"].native == theirs["issuer_key_hash"].native
        and ours["serial_number"].native == theirs["serial_number"].native
    )


def _responder_matches(rid: Any, cert: Certificate) -> bool:
    if rid.name == "by_name":
        return cast(bytes, rid.chosen.untag().dump()) == cert.subject_der
    return cast(bytes, rid.chosen.native) == key_hash(cert)


def _responder(
    rid: Any, issuer: Certificate, embedded: Sequence[Certificate], when: datetime, backend: Backend, source: str
) -> Certificate | RevocationStatus:
    """The certificate that may sign answers about ``issuer``'s certificates, or why none may."""
    if _responder_matches(rid, issuer):
        return issuer
    for c in embedded:
        if not _responder_matches(rid, c):
            continue
        if c.issuer_der != issuer.subject_der or not verify_signed_by(c.tbs, c.signature, c.signature_algorithm, issuer, backend):
            break
        if OCSP_SIGNING not in c.extended_key_usage:
            break
        if not c.valid_at(when):
            return RevocationStatus.unavailable(
                "ocsp_unauthorized", f"срок действия сертификата ответчика OCSP истёк или не наступил (источник: {source})", source
            )
        return c
    return RevocationStatus.unavailable(
        "ocsp_unauthorized",
        f"ответ OCSP подписан не уполномоченным ответчиком: не УЦ-издателем и не сертификатом OCSP, выданным им (источник: {source})",
        source,
    )


def check_ocsp(
    response_der: bytes,
    cert: Certificate,
    issuer: Certificate,
    at: datetime,
    *,
    source: str,
    nonce: bytes | None = None,
    now: datetime | None = None,
    backend: Backend | None = None,
    default_lifetime: timedelta = DEFAULT_OCSP_LIFETIME,
) -> RevocationStatus:
    """What an OCSP answer says of ``cert`` at ``at``, after checking who signed it and when.

    ``nonce``: the one sent; an answer with another nonce is refused, one without any is
    accepted (responders that pre-produce answers leave it out).  ``now`` (default ``at``)
    is when the answer is read: one produced in its future is refused.
    """
    b = backend or get_backend()
    read_at = now or at
    try:
        resp = ocsp.OCSPResponse.load(response_der)
        status = resp["response_status"].native
        if status != "successful":
            return RevocationStatus.unavailable("ocsp_error", f"ответчик OCSP отказал: {status} (источник: {source})", source)
        if resp["response_bytes"]["response_type"].dotted != "1.3.6.1.5.5.7.48.1.1":
            return RevocationStatus.unavailable("ocsp_invalid", f"неизвестный тип ответа OCSP (источник: {source})", source)
        basic = resp["response_bytes"]["response"].parsed
        data = basic["tbs_response_data"]
        produced_at = _time(data["produced_at"])
        embedded = [parse_certificate(cast(bytes, c.dump())) for c in basic["certs"]]
        signer = _responder(data["responder_id"], issuer, embedded, produced_at, b, source)
        if isinstance(signer, RevocationStatus):
            return signer
        alg = cast(str, basic["signature_algorithm"]["algorithm"].dotted)
        digest_name = oids.DIGEST_FOR_SIGNATURE_OID.get(alg)
        signature = cast(bytes, basic["signature"].native)
        tbs = cast(bytes, data.dump())
        if digest_name is None or not public_key(signer, b).verify_digest(b.digest(digest_name, tbs), signature):
            return RevocationStatus.unavailable("ocsp_invalid", f"подпись ответа OCSP не верна (источник: {source})", source)
        if produced_at > read_at + CLOCK_SKEW:
            return RevocationStatus.unavailable("ocsp_invalid", f"ответ OCSP датирован будущим временем (источник: {source})", source)
        if nonce is not None:
            for ext in data["response_extensions"]:
                if ext["extn_id"].dotted == OCSP_NONCE and ext["extn_value"].parsed.native != nonce:
                    return RevocationStatus.unavailable("ocsp_invalid", f"nonce ответа OCSP не совпадает с запросом (источник: {source})", source)
        single = None
        for r in data["responses"]:
            hash_oid = cast(str, r["cert_id"]["hash_algorithm"]["algorithm"].dotted)
            if hash_oid in _HASH_OIDS and _same_id(cert_id(cert, issuer, b, hash_oid), r["cert_id"]):
                single = r
                break
        if single is None:
            return RevocationStatus.unavailable("ocsp_invalid", f"в ответе OCSP нет статуса этого сертификата (источник: {source})", source)
        this_update = _time(single["this_update"])
        nu = single["next_update"]
        next_update = this_update + default_lifetime if isinstance(nu, core.Void) else _time(nu)
        if this_update > read_at + CLOCK_SKEW:
            return RevocationStatus.unavailable("ocsp_invalid", f"ответ OCSP датирован будущим временем (источник: {source})", source)
        if next_update < at:
            return RevocationStatus.unavailable(
                "ocsp_expired",
                f"ответ OCSP устарел: следующее обновление ожидалось {next_update:%d.%m.%Y %H:%M} UTC (источник: {source})",
                source,
            )
        cs = single["cert_status"]
        if cs.name == "good":
            return RevocationStatus.good(source, this_update, next_update)
        if cs.name == "revoked":
            revoked_at = _time(cs.chosen["revocation_time"])
            reason_field = cs.chosen["revocation_reason"]
            reason = None if isinstance(reason_field, core.Void) else str(reason_field.native)
            if revoked_at <= at:
                return RevocationStatus.revoked(source, revoked_at, reason, this_update, next_update)
            return RevocationStatus.good(source, this_update, min(next_update, revoked_at))
        return RevocationStatus.unknown(source, this_update, next_update)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return RevocationStatus.unavailable("ocsp_invalid", f"ответ OCSP не читается: {exc} (источник: {source})", source)
