"""What a signer's certificate is checked against, and the remembered verdicts.

A :class:`TrustStore` holds the trust anchors, static CRLs, an optional
:class:`~signing.revocation_source.RevocationSource` (CRLs from the distribution points,
OCSP), the policy for a status that cannot be had (``hard``: refuse; ``soft``: accept
with a warning) and an optional ``anchor_check`` (for instance the accreditation dates
of a trusted list).  :meth:`TrustStore.validate` is synchronous and cheap when it has
seen the path before: the signatures of a path are checked once per anchor set, and
the verdict is kept under the revocation evidence of every link, so a new CRL or OCSP
answer, a changed anchor set, or time passing a validity or nextUpdate boundary gives
a fresh verdict while everything else is a dictionary hit.  Revocation is read from
what the source has cached; :meth:`TrustStore.prefetch` (async) fills it first.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

from asn1crypto import cms as asn1_cms
from asn1crypto import core

from signing.backend import Backend, get_backend
from signing.certificates import Certificate, RevocationList, parse_certificate
from signing.chain import ChainResult, build_path, check_dates
from signing.revocation import RevocationStatus, check_crl, combine

__all__ = ["AnchorCheck", "Policy", "RevocationLookup", "TrustStore", "POLICIES", "certificates_in_cms"]

Policy = Literal["hard", "soft"]
POLICIES: tuple[Policy, ...] = ("hard", "soft")
AnchorCheck = Callable[[Sequence[Certificate], datetime], "tuple[str, str] | None"]
"""Given the validated path ``[end-entity, ..., anchor]`` and the time: ``(code, Russian message)`` on failure, else None."""

STATIC_SOURCE = "статический список отзыва"


class RevocationLookup(Protocol):
    """A cache of revocation evidence: read synchronously, filled asynchronously.

    A lookup with an integer ``version`` attribute, changed whenever its evidence
    changes, lets the store keep each link's verdict; without one it is asked every time.
    """

    def status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus: ...

    async def prefetch(self, cert: Certificate, issuer: Certificate) -> None: ...


PathKey = tuple[bytes, tuple[bytes, ...], str]


def certificates_in_cms(der: bytes) -> list[Certificate]:
    """The certificates a CMS SignedData carries (empty when it cannot be read: the verifier will say why)."""
    try:
        info = asn1_cms.ContentInfo.load(der)
        certs = info["content"]["certificates"]
        if isinstance(certs, core.Void):
            return []
        return [parse_certificate(bytes(c.chosen.dump())) for c in certs if c.name == "certificate"]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return []


class TrustStore:
    """Anchors + revocation + policy, with a cache of chain verdicts (see the module doc).

    ``crls``: static lists (e.g. ``ca.crl``), checked for their issuer's signature once.
    Revocation is checked when there are static CRLs or a source; a link for which
    neither says anything is ``unavailable`` and the ``policy`` decides.  Without both,
    revocation is not checked (``ChainResult.revocation == "not_checked"``).
    """

    def __init__(
        self,
        anchors: Sequence[Certificate] = (),
        *,
        crls: Sequence[RevocationList] = (),
        source: RevocationLookup | None = None,
        policy: Policy = "hard",
        anchor_check: AnchorCheck | None = None,
        backend: Backend | None = None,
        clock: Callable[[], datetime] | None = None,
        max_entries: int = 100_000,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"политика проверки отзыва: hard или soft, а не {policy!r}")
        self.policy: Policy = policy
        self.source = source
        self.anchor_check = anchor_check
        self.backend = backend or get_backend()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._max = max_entries
        self._lock = threading.Lock()
        self._anchors: tuple[Certificate, ...] = tuple(anchors)
        self._crls: tuple[RevocationList, ...] = tuple(crls)
        self._crls_by_issuer: dict[bytes, tuple[RevocationList, ...]] = {}
        self.version = 0
        self._paths: dict[PathKey, tuple[Certificate, ...] | ChainResult] = {}
        self._results: dict[tuple[object, ...], ChainResult] = {}
        self._links: dict[tuple[bytes, bytes], tuple[int, datetime, datetime | None, RevocationStatus]] = {}
        self.hits = 0
        self.misses = 0
        self._index_crls()

    # ------------------------------------------------------------ configuration

    @property
    def anchors(self) -> tuple[Certificate, ...]:
        return self._anchors

    @property
    def crls(self) -> tuple[RevocationList, ...]:
        """The static CRLs (what the source fetched is in the source)."""
        return self._crls

    @property
    def checks_revocation(self) -> bool:
        return self.source is not None or bool(self._crls)

    def set_anchors(self, anchors: Sequence[Certificate]) -> None:
        """Replace the anchors; every kept path and verdict is dropped."""
        with self._lock:
            self._anchors = tuple(anchors)
            self._invalidate()

    def set_crls(self, crls: Sequence[RevocationList]) -> None:
        """Replace the static CRLs (verdicts depending on them change with the evidence)."""
        with self._lock:
            self._crls = tuple(crls)
            self._index_crls()
            self._invalidate()

    def set_anchor_check(self, check: AnchorCheck | None) -> None:
        with self._lock:
            self.anchor_check = check
            self._invalidate()

    def clear_cache(self) -> None:
        with self._lock:
            self._invalidate()

    def _invalidate(self) -> None:
        self.version += 1
        self._paths = {}
        self._results = {}
        self._links = {}

    def _index_crls(self) -> None:
        by_issuer: dict[bytes, list[RevocationList]] = {}
        for c in self._crls:
            by_issuer.setdefault(c.issuer_der, []).append(c)
        self._crls_by_issuer = {k: tuple(v) for k, v in by_issuer.items()}

    # ------------------------------------------------------------ validation

    def path(
        self, cert: Certificate, intermediates: Sequence[Certificate] = (), require_key_usage: str = "digital_signature"
    ) -> tuple[Certificate, ...] | ChainResult:
        """The checked path to an anchor (kept per anchor set), or the failure."""
        return self._path((cert.der, tuple(i.der for i in intermediates), require_key_usage), cert, intermediates)

    def _path(
        self, key: PathKey, cert: Certificate, intermediates: Sequence[Certificate]
    ) -> tuple[Certificate, ...] | ChainResult:
        require_key_usage = key[2]
        paths = self._paths
        found = paths.get(key)
        if found is None:
            found = build_path(cert, self._anchors, intermediates, backend=self.backend, require_key_usage=require_key_usage)
            if len(paths) >= self._max:
                paths.pop(next(iter(paths)), None)
            paths[key] = found
        return found

    def revocation_status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        """One link's verdict from the static CRLs and the source's cache (no I/O).

        Kept per link while neither the static lists nor the source's evidence change
        (``source.version``) and ``at`` stays between the moment it was computed and its
        ``valid_until``: verdicts only move forward in time by crossing that bound.
        """
        version = getattr(self.source, "version", None) if self.source is not None else 0
        if version is None:
            return self._revocation_status(cert, issuer, at)
        key = (cert.der, issuer.der)
        kept = self._links.get(key)
        if kept is not None and kept[0] == version and kept[1] <= at and (kept[2] is None or at <= kept[2]):
            return kept[3]
        found = self._revocation_status(cert, issuer, at)
        until = found.valid_until if found.state in ("good", "unknown") else None
        links = self._links
        if len(links) >= self._max:
            links.pop(next(iter(links)), None)
        links[key] = (version, at, until, found)
        return found

    def _revocation_status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        static = self._crls_by_issuer.get(issuer.subject_der, ())
        if self.source is None:
            return combine(check_crl(c, cert, issuer, at, source=STATIC_SOURCE, backend=self.backend) for c in static)
        found = self.source.status(cert, issuer, at)
        if not static or found.state == "revoked":
            return found
        checked = [check_crl(c, cert, issuer, at, source=STATIC_SOURCE, backend=self.backend) for c in static]
        if found.code == "revocation_unavailable":  # the source knows no address for it: the static lists alone speak
            return combine(checked)
        return combine([found, *checked])

    def validate(
        self,
        cert: Certificate,
        *,
        intermediates: Sequence[Certificate] = (),
        at: datetime | None = None,
        require_key_usage: str = "digital_signature",
    ) -> ChainResult:
        """Validate ``cert`` at ``at`` (default now): path, dates, revocation of every link, policy, anchor check."""
        when = at or self._clock()
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        path_key: PathKey = (cert.der, tuple(i.der for i in intermediates) if intermediates else (), require_key_usage)
        path = self._path(path_key, cert, intermediates)
        if isinstance(path, ChainResult):
            return path
        failed = check_dates(path, when)
        if failed is not None:
            return failed
        statuses: tuple[RevocationStatus, ...] = ()
        if self.checks_revocation:
            statuses = tuple(self.revocation_status(path[i], path[i + 1], when) for i in range(len(path) - 1))
        anchored = self.anchor_check(path, when) if self.anchor_check is not None else None
        key = (path_key, statuses, anchored, self.policy)
        results = self._results
        hit = results.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        result = self._verdict(path, statuses, anchored)
        if len(results) >= self._max:
            results.pop(next(iter(results)), None)
        results[key] = result
        return result

    def _verdict(
        self, path: tuple[Certificate, ...], statuses: tuple[RevocationStatus, ...], anchored: tuple[str, str] | None
    ) -> ChainResult:
        if anchored is not None:
            return ChainResult(False, anchored[0], anchored[1], path)
        if not self.checks_revocation:
            return ChainResult(True, "ok", "цепочка сертификатов действительна", path)
        warnings: list[str] = []
        states = set()
        for cert, status in zip(path, statuses, strict=False):
            who = "сертификата подписи" if cert is path[0] else "промежуточного сертификата УЦ"
            if status.state == "revoked":
                return ChainResult(False, "revoked", status.reason or "сертификат отозван", path, "revoked")
            if status.state == "good":
                continue
            states.add(status.state)
            if status.state == "unknown":
                text = f"статус отзыва {who} (серийный номер {cert.serial:x}) неизвестен: {status.reason}"
            else:
                text = f"статус отзыва {who} (серийный номер {cert.serial:x}) не получен: {status.reason}"
            if self.policy == "hard":
                return ChainResult(False, status.code, text, path, status.state)
            warnings.append(f"{text} [{status.code}]")
        if warnings:
            state = "unknown" if states == {"unknown"} else "unavailable"
            return ChainResult(
                True, "ok", "цепочка сертификатов действительна; статус отзыва не подтверждён", path, state, tuple(warnings)
            )
        return ChainResult(True, "ok", "цепочка сертификатов действительна", path, "good")

    # ------------------------------------------------------------ filling the revocation cache

    async def prefetch(
        self,
        cert: Certificate,
        *,
        intermediates: Sequence[Certificate] = (),
        require_key_usage: str = "digital_signature",
    ) -> None:
        """Let the source fetch what it lacks for every link of ``cert``'s path (no-op without a source)."""
        if self.source is None:
            return
        path = self.path(cert, intermediates, require_key_usage)
        if isinstance(path, ChainResult):
            return
        source = self.source
        await asyncio.gather(*(source.prefetch(path[i], path[i + 1]) for i in range(len(path) - 1)))

    async def prefetch_cms(self, der: bytes) -> None:
        """:meth:`prefetch` for every end-entity certificate a CMS signature carries (before verifying it)."""
        if self.source is None:
            return
        certs = certificates_in_cms(der)
        await asyncio.gather(
            *(self.prefetch(c, intermediates=[o for o in certs if o is not c]) for c in certs if not c.is_ca)
        )

    async def validate_async(
        self,
        cert: Certificate,
        *,
        intermediates: Sequence[Certificate] = (),
        at: datetime | None = None,
        require_key_usage: str = "digital_signature",
    ) -> ChainResult:
        """:meth:`prefetch`, then :meth:`validate`."""
        await self.prefetch(cert, intermediates=intermediates, require_key_usage=require_key_usage)
        return self.validate(cert, intermediates=intermediates, at=at, require_key_usage=require_key_usage)
