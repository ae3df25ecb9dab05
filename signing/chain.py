"""Certificate path validation for GOST certificates, on either backend.

Hand-written because no Python path validator knows GOST (``certvalidator`` and
``cryptography`` reject the algorithms) and it must also run on the pure-Python
fallback.  It checks the signature of every link, the validity period at a given time,
basic constraints and key usage of issuers, key usage of the end entity, and revocation
in the CRLs given (their signature and dates included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from signing import oids
from signing.backend import Backend, PublicKeyOps, get_backend
from signing.certificates import Certificate, RevocationList

__all__ = [
    "ChainResult",
    "build_path",
    "check_dates",
    "check_crls",
    "validate_chain",
    "public_key",
    "verify_signed_by",
]

_pubkey_cache: dict[tuple[str, bytes], PublicKeyOps] = {}


def public_key(cert: Certificate | bytes, backend: Backend | None = None) -> PublicKeyOps:
    """The certificate's public key, parsed once per backend and SubjectPublicKeyInfo."""
    b = backend or get_backend()
    spki = cert.public_key_info if isinstance(cert, Certificate) else cert
    key = (b.name, spki)
    pk = _pubkey_cache.get(key)
    if pk is None:
        if len(_pubkey_cache) > 4096:
            _pubkey_cache.clear()
        pk = _pubkey_cache[key] = b.load_public_key(spki)
    return pk


def verify_signed_by(tbs: bytes, signature: bytes, algorithm: str, issuer: Certificate, backend: Backend | None = None) -> bool:
    """Check a certificate's or CRL's signature (``algorithm`` = its signatureAlgorithm OID)."""
    b = backend or get_backend()
    digest_name = oids.DIGEST_FOR_SIGNATURE_OID.get(algorithm)
    if digest_name is None:
        return False
    try:
        return public_key(issuer, b).verify_digest(b.digest(digest_name, tbs), signature)
    except Exception:
        return False


@dataclass(frozen=True)
class ChainResult:
    """Outcome of chain validation; ``code`` is a stable English word, ``message`` Russian."""

    ok: bool
    code: str
    message: str
    path: tuple[Certificate, ...] = ()
    revocation: str = "not_checked"  # good | revoked | unknown | unavailable | not_checked
    warnings: tuple[str, ...] = ()  # accepted despite these (Russian, each ending with its code in brackets)

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


def _fail(code: str, message: str, path: Sequence[Certificate] = (), revocation: str = "not_checked") -> ChainResult:
    return ChainResult(False, code, message, tuple(path), revocation)


def _when(at: datetime | None) -> datetime:
    when = at or datetime.now(UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _find_issuer(cert: Certificate, pool: Iterable[Certificate]) -> list[Certificate]:
    found = [c for c in pool if c.subject_der == cert.issuer_der]
    if cert.authority_key_id:
        keyed = [c for c in found if c.subject_key_id in (None, cert.authority_key_id)]
        found = keyed or found
    return found


def build_path(
    cert: Certificate,
    trusted: Sequence[Certificate],
    intermediates: Sequence[Certificate] = (),
    *,
    backend: Backend | None = None,
    require_key_usage: str = "digital_signature",
) -> tuple[Certificate, ...] | ChainResult:
    """The path ``(cert, ..., anchor)`` with every link's signature checked, or the failure.

    Independent of time and revocation, so a caller may keep it for as long as the
    anchors stay the same.
    """
    b = backend or get_backend()
    trusted_der = {c.der for c in trusted}
    path: list[Certificate] = [cert]
    if require_key_usage and cert.key_usage and require_key_usage not in cert.key_usage:
        return _fail("key_usage", "сертификат не предназначен для электронной подписи", path)
    current = cert
    for _ in range(8):
        if current.der in trusted_der:
            break
        issuers = _find_issuer(current, list(trusted) + list(intermediates))
        issuer = next(
            (i for i in issuers if verify_signed_by(current.tbs, current.signature, current.signature_algorithm, i, b)),
            None,
        )
        if issuer is None:
            if issuers:
                return _fail("bad_signature", "подпись сертификата не проверяется ключом доверенного издателя с тем же именем", path)
            return _fail("untrusted", "цепочка не доходит до доверенного корневого сертификата", path)
        if not issuer.is_ca or (issuer.key_usage and "key_cert_sign" not in issuer.key_usage):
            return _fail("issuer_not_ca", "издатель не является удостоверяющим центром", path)
        path.append(issuer)
        current = issuer
    else:
        return _fail("untrusted", "слишком длинная цепочка", path)
    return tuple(path)


def check_dates(path: Sequence[Certificate], when: datetime) -> ChainResult | None:
    """The failure when a certificate of ``path`` is not valid at ``when``, else None."""
    for c in path:
        if when < c.not_before:
            return _fail("not_yet_valid", f"сертификат ещё не действует (с {c.not_before:%d.%m.%Y})", path)
        if when > c.not_after:
            return _fail("expired", f"срок действия сертификата истёк {c.not_after:%d.%m.%Y}", path)
    return None


def check_crls(
    path: Sequence[Certificate], crls: Sequence[RevocationList], when: datetime, backend: Backend | None = None
) -> ChainResult:
    """Revocation of every link in the CRLs given (signature and dates included); ok when none revoked."""
    b = backend or get_backend()
    revocation = "not_checked"
    for child, issuer in zip(path, path[1:], strict=False):
        lists = [r for r in crls if r.issuer_der == issuer.subject_der]
        if not lists:
            continue
        for r in lists:
            if not verify_signed_by(r.tbs, r.signature, r.signature_algorithm, issuer, b):
                return _fail("crl_invalid", "подпись списка отзыва не верна", path)
            if r.this_update > when or (r.next_update is not None and r.next_update < when):
                return _fail("crl_expired", "список отзыва не действует на момент проверки", path)
            revoked_at = r.revoked.get(child.serial)
            if revoked_at is not None and revoked_at <= when:
                return _fail("revoked", f"сертификат отозван {revoked_at:%d.%m.%Y}", path, "revoked")
        if child is path[0]:
            revocation = "good"
    return ChainResult(True, "ok", "цепочка сертификатов действительна", tuple(path), revocation)


def validate_chain(
    cert: Certificate,
    trusted: Sequence[Certificate],
    *,
    intermediates: Sequence[Certificate] = (),
    crls: Sequence[RevocationList] = (),
    at: datetime | None = None,
    backend: Backend | None = None,
    require_key_usage: str = "digital_signature",
) -> ChainResult:
    """Validate ``cert`` up to one of ``trusted`` at time ``at`` (default: now), revocation by ``crls``.

    Every call checks every signature again; :class:`signing.trust_store.TrustStore`
    keeps the results and asks the network about revocation.
    """
    b = backend or get_backend()
    when = _when(at)
    path = build_path(cert, trusted, intermediates, backend=b, require_key_usage=require_key_usage)
    if isinstance(path, ChainResult):
        return path
    failed = check_dates(path, when)
    if failed is not None:
        return failed
    return check_crls(path, crls, when, b)
