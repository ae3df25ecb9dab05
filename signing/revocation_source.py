"""Revocation evidence from the network and from files, cached for the synchronous hot path.

A :class:`RevocationSource` gets CRLs from each certificate's distribution points (HTTP,
DER or PEM, bounded in time and size) and OCSP answers from the responders its
authorityInfoAccess names (``POST application/ocsp-request``).  Everything is checked
(:mod:`signing.revocation`) before it is kept: a CRL must carry its issuer's signature,
an OCSP answer the CA's or its delegated responder's.  Kept are, per URL, the newest
CRL (never rolled back to an older one) and, per certificate and responder, the last
answer, in memory and in a cache directory (written atomically, read back on start,
so a restart needs no network), until their nextUpdate.

- :meth:`RevocationSource.status` reads the cache only (no I/O): the hot path.
- :meth:`RevocationSource.prefetch` (async) fetches what is missing or due; a failed
  fetch is not retried before ``retry_after_s``, and the failure is what ``status``
  then reports (``crl_unavailable``, ``ocsp_unavailable``…, with the URL in Russian).
- :meth:`RevocationSource.run` refreshes what is due ``refresh_margin_s`` before its
  nextUpdate, and re-reads the static CRL files (e.g. ``ca.crl``) when they change;
  the gateway runs it as a background task (:meth:`start` / :meth:`close`).

Only certificates whose path to a trust anchor has been checked should be prefetched
(:meth:`signing.trust_store.TrustStore.prefetch` does so): the URLs come from them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from signing.atomic_file import write_atomic
from signing.backend import Backend, get_backend
from signing.certificates import Certificate, RevocationList, load_crls, parse_certificate
from signing.revocation import (
    RevocationStatus,
    build_ocsp_request,
    check_crl,
    check_ocsp,
    combine,
    crl_signed_by,
    status_at,
)

__all__ = ["RevocationSource", "OCSP_REQUEST", "OCSP_RESPONSE"]

log = logging.getLogger("signing.revocation")

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
DEFAULT_CRL_LIFETIME = timedelta(days=1)  # a CRL without nextUpdate is fetched again after this


class _FetchError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fetchable(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _crl_source(url: str) -> str:
    return f"CRL {url}"


def _ocsp_source(url: str) -> str:
    return f"OCSP {url}"


@dataclass
class _CrlEntry:
    url: str
    crl: RevocationList | None = None
    issuer: Certificate | None = None
    fetched_at: datetime | None = None
    attempted_at: datetime | None = None
    error: RevocationStatus | None = None  # the last failure, while there is no usable CRL or it is stale

    def refresh_at(self) -> datetime | None:
        if self.crl is None:
            return None
        if self.crl.next_update is not None:
            return self.crl.next_update
        return (self.fetched_at or self.crl.this_update) + DEFAULT_CRL_LIFETIME


@dataclass
class _OcspEntry:
    url: str
    cert: Certificate
    issuer: Certificate
    response: bytes | None = None
    verdict: RevocationStatus | None = None  # good | revoked | unknown, as checked when fetched
    fetched_at: datetime | None = None
    attempted_at: datetime | None = None
    error: RevocationStatus | None = None

    def refresh_at(self) -> datetime | None:
        return None if self.verdict is None else self.verdict.valid_until


@dataclass
class _StaticFile:
    path: Path
    mtime_ns: int = -1
    crls: tuple[RevocationList, ...] = ()


class RevocationSource:
    """CRLs (distribution points, static files) and OCSP answers, fetched, checked and cached.

    ``cache_dir``: where fetched evidence is kept across restarts (``None``: memory only).
    ``fetch_timeout_s`` bounds one fetch as a whole; ``max_crl_bytes`` one body.
    ``refresh_margin_s``: how long before nextUpdate the evidence is fetched again.
    ``ocsp``: ask OCSP responders at all.  ``clock``: the time (tests move it).
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        static_crl_files: Sequence[Path] = (),
        fetch_timeout_s: float = 5.0,
        max_crl_bytes: int = 32 * 1024 * 1024,
        refresh_margin_s: float = 300.0,
        ocsp: bool = True,
        ocsp_nonce: bool = True,
        retry_after_s: float = 30.0,
        min_interval_s: float = 1.0,
        max_interval_s: float = 300.0,
        backend: Backend | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.fetch_timeout_s = fetch_timeout_s
        self.max_crl_bytes = max_crl_bytes
        self.refresh_margin = timedelta(seconds=refresh_margin_s)
        self.ocsp_enabled = ocsp
        self.use_nonce = ocsp_nonce
        self.retry_after = timedelta(seconds=retry_after_s)
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.backend = backend or get_backend()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._crls: dict[str, _CrlEntry] = {}
        self._ocsp: dict[tuple[str, bytes], _OcspEntry] = {}
        self._static = [_StaticFile(Path(p)) for p in static_crl_files]
        self._static_by_issuer: dict[bytes, tuple[tuple[str, RevocationList], ...]] = {}
        self._inflight: dict[tuple[str, ...], asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self.fetches = 0  # network requests made (for tests and the operator)
        self.version = 0  # changes whenever the evidence held does (a trust store keeps verdicts until it does)
        self.reload_static()
        self._load_cache()

    # ------------------------------------------------------------ the hot path (no I/O)

    def status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        """What the cache says of ``cert`` (issued by ``issuer``) at ``at``; see :func:`signing.revocation.combine`."""
        parts: list[RevocationStatus | None] = []
        if self.ocsp_enabled:
            for url in cert.ocsp_urls:
                if _fetchable(url):
                    parts.append(self._ocsp_status(self._ocsp.get((url, cert.der)), url, at))
        for url in cert.crl_urls:
            if _fetchable(url):
                parts.append(self._crl_status(self._crls.get(url), url, cert, issuer, at))
        for name, crl in self._static_by_issuer.get(issuer.subject_der, ()):
            parts.append(check_crl(crl, cert, issuer, at, source=name, backend=self.backend))
        if len(parts) == 1 and parts[0] is not None:
            return parts[0]
        return combine(parts)

    def _crl_status(
        self, entry: _CrlEntry | None, url: str, cert: Certificate, issuer: Certificate, at: datetime
    ) -> RevocationStatus:
        source = _crl_source(url)
        if entry is None or entry.crl is None:
            if entry is not None and entry.error is not None:
                return entry.error
            return RevocationStatus.unavailable("crl_unavailable", f"список отзыва {url} ещё не получен", source)
        found = check_crl(entry.crl, cert, issuer, at, source=source, backend=self.backend)
        if found is None:
            return RevocationStatus.unavailable("crl_invalid", f"список отзыва {url} выпущен не издателем сертификата", source)
        if found.state == "unavailable" and entry.error is not None:
            return RevocationStatus.unavailable(found.code, f"{found.reason}; обновить не удалось: {entry.error.reason}", source)
        return found

    def _ocsp_status(self, entry: _OcspEntry | None, url: str, at: datetime) -> RevocationStatus:
        if entry is not None and entry.verdict is not None:
            found = status_at(entry.verdict, at)
            if found.state == "unavailable" and entry.error is not None:
                return RevocationStatus.unavailable(found.code, f"{found.reason}; обновить не удалось: {entry.error.reason}", found.source)
            return found
        if entry is not None and entry.error is not None:
            return entry.error
        return RevocationStatus.unavailable("ocsp_unavailable", f"ответ OCSP {url} ещё не получен", _ocsp_source(url))

    def crls(self) -> list[RevocationList]:
        """Every CRL held now (static and fetched): for verifiers that take a plain list."""
        out = [crl for f in self._static for crl in f.crls]
        out += [e.crl for e in self._crls.values() if e.crl is not None]
        return out

    # ------------------------------------------------------------ filling the cache

    def _due(self, attempted: datetime | None, refresh_at: datetime | None, have: bool, now: datetime) -> bool:
        if attempted is not None and now - attempted < self.retry_after:
            return False
        if not have:
            return True
        return refresh_at is not None and now >= refresh_at - self.refresh_margin

    async def prefetch(self, cert: Certificate, issuer: Certificate) -> None:
        """Fetch what is missing or due for ``cert``: its CRLs and (``ocsp``) OCSP answers."""
        now = self._clock()
        jobs: list[Awaitable[None]] = []
        if self.ocsp_enabled:
            for url in filter(_fetchable, cert.ocsp_urls):
                key = (url, cert.der)
                entry = self._ocsp.get(key)
                if entry is None:
                    entry = self._ocsp[key] = _OcspEntry(url, cert, issuer)
                if self._due(entry.attempted_at, entry.refresh_at(), entry.verdict is not None, now):
                    jobs.append(self._once(("ocsp", url, cert.der.hex()), self._fetch_ocsp, entry))
        for url in filter(_fetchable, cert.crl_urls):
            crl_entry = self._crls.get(url)
            if crl_entry is None:
                crl_entry = self._crls[url] = _CrlEntry(url)
            if crl_entry.issuer is None or crl_entry.issuer.subject_der != issuer.subject_der:
                crl_entry.issuer = issuer
            if self._due(crl_entry.attempted_at, crl_entry.refresh_at(), crl_entry.crl is not None, now):
                jobs.append(self._once(("crl", url), self._fetch_crl, crl_entry))
        if jobs:
            await asyncio.gather(*jobs)

    async def _once(self, key: tuple[str, ...], fetch: Callable[[Any], Awaitable[None]], entry: Any) -> None:
        """One fetch per URL at a time: concurrent callers wait for the same one."""
        running = self._inflight.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = asyncio.ensure_future(fetch(entry))
            self._inflight[key] = running
            running.add_done_callback(self._forget(key))
        await asyncio.shield(running)

    def _forget(self, key: tuple[str, ...]) -> Callable[[asyncio.Future[None]], None]:
        def done(_: asyncio.Future[None]) -> None:
            self._inflight.pop(key, None)

        return done

    async def _get(self, method: str, url: str, body: bytes | None = None) -> bytes:
        headers = {"Content-Type": OCSP_REQUEST, "Accept": OCSP_RESPONSE} if body is not None else {}
        self.fetches += 1
        try:
            async with asyncio.timeout(self.fetch_timeout_s):
                async with httpx.AsyncClient(timeout=self.fetch_timeout_s, follow_redirects=False) as client:
                    async with client.stream(method, url, content=body, headers=headers) as resp:
                        if resp.status_code != 200:
                            raise _FetchError(f"ответ HTTP {resp.status_code}")
                        size = int(resp.headers.get("content-length") or 0)
                        if size > self.max_crl_bytes:
                            raise _FetchError(f"ответ больше {self.max_crl_bytes} байт")
                        chunks: list[bytes] = []
                        total = 0
                        async for chunk in resp.aiter_bytes():
                            total += len(chunk)
                            if total > self.max_crl_bytes:
                                raise _FetchError(f"ответ больше {self.max_crl_bytes} байт")
                            chunks.append(chunk)
                        return b"".join(chunks)
        except TimeoutError:
            raise _FetchError(f"нет ответа за {self.fetch_timeout_s:g} с") from None
        except httpx.HTTPError as exc:
            raise _FetchError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    async def _fetch_crl(self, entry: _CrlEntry) -> None:
        url = entry.url
        source = _crl_source(url)
        entry.attempted_at = self._clock()
        issuer = entry.issuer
        try:
            data = await self._get("GET", url)
        except _FetchError as exc:
            entry.error = RevocationStatus.unavailable("crl_unavailable", f"список отзыва {url} недоступен: {exc.reason}", source)
            self.version += 1
            log.warning("CRL %s unavailable: %s", url, exc.reason)
            return
        try:
            crls = await asyncio.to_thread(load_crls, data)
        except (ValueError, KeyError, TypeError, IndexError):
            crls = []
        if len(crls) != 1:
            entry.error = RevocationStatus.unavailable("crl_invalid", f"по адресу {url} не список отзыва", source)
            self.version += 1
            log.warning("CRL %s: not a CRL", url)
            return
        crl = crls[0]
        if issuer is not None and not await asyncio.to_thread(crl_signed_by, crl, issuer, self.backend):
            entry.error = RevocationStatus.unavailable(
                "crl_invalid", f"подпись списка отзыва {url} не проверяется ключом издателя", source
            )
            log.warning("CRL %s: bad signature or another issuer", url)
            self.version += 1
            return
        if entry.crl is not None and crl.this_update < entry.crl.this_update:
            entry.error = RevocationStatus.unavailable(
                "crl_invalid", f"по адресу {url} получен список отзыва старее уже имеющегося", source
            )
            self.version += 1
            return
        entry.crl = crl
        entry.fetched_at = self._clock()
        entry.error = None
        if crl.next_update is not None and crl.next_update < entry.fetched_at:
            entry.error = RevocationStatus.unavailable(
                "crl_expired", f"по адресу {url} опубликован устаревший список отзыва", source
            )
        self.version += 1
        meta = {"url": url, "fetched_at": entry.fetched_at.isoformat(),
                "issuer": base64.b64encode(issuer.der).decode() if issuer is not None else None}  # fmt: skip
        await asyncio.to_thread(self._store, "crl", url, crl.der, meta)

    async def _fetch_ocsp(self, entry: _OcspEntry) -> None:
        url = entry.url
        source = _ocsp_source(url)
        entry.attempted_at = self._clock()
        nonce = secrets.token_bytes(16) if self.use_nonce else None
        request = build_ocsp_request(entry.cert, entry.issuer, nonce=nonce, backend=self.backend)
        try:
            data = await self._get("POST", url, request)
        except _FetchError as exc:
            entry.error = RevocationStatus.unavailable("ocsp_unavailable", f"ответчик OCSP {url} недоступен: {exc.reason}", source)
            self.version += 1
            log.warning("OCSP %s unavailable: %s", url, exc.reason)
            return
        now = self._clock()
        verdict = await asyncio.to_thread(
            check_ocsp, data, entry.cert, entry.issuer, now, source=source, nonce=nonce, backend=self.backend
        )
        if verdict.state == "unavailable":
            entry.error = verdict
            log.warning("OCSP %s: %s", url, verdict.code)
            self.version += 1
            return
        entry.response, entry.verdict, entry.fetched_at, entry.error = data, verdict, now, None
        self.version += 1
        meta = {"url": url, "fetched_at": now.isoformat(), "cert": base64.b64encode(entry.cert.der).decode(),
                "issuer": base64.b64encode(entry.issuer.der).decode()}  # fmt: skip
        await asyncio.to_thread(self._store, "ocsp", url + "\n" + entry.cert.der.hex(), data, meta)

    # ------------------------------------------------------------ background refresh

    def reload_static(self) -> bool:
        """Re-read the static CRL files that changed (or appeared); True when any did."""
        changed = False
        for f in self._static:
            try:
                mtime = f.path.stat().st_mtime_ns
            except OSError:
                mtime = -2
            if mtime == f.mtime_ns:
                continue
            f.mtime_ns = mtime
            try:
                f.crls = tuple(load_crls(f.path.read_bytes())) if mtime >= 0 else ()
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                log.warning("static CRL file %s unreadable", f.path)
                f.crls = ()
            changed = True
        if changed:
            by_issuer: dict[bytes, list[tuple[str, RevocationList]]] = {}
            for f in self._static:
                for crl in f.crls:
                    by_issuer.setdefault(crl.issuer_der, []).append((f"файл {f.path.name}", crl))
            self._static_by_issuer = {k: tuple(v) for k, v in by_issuer.items()}
            self.version += 1
        return changed

    def _entries(self) -> Iterable[_CrlEntry | _OcspEntry]:
        yield from list(self._crls.values())
        if self.ocsp_enabled:
            yield from list(self._ocsp.values())

    async def refresh_due(self) -> int:
        """Fetch again everything due (near its nextUpdate, or failed and past ``retry_after_s``); how many."""
        self.reload_static()
        now = self._clock()
        jobs: list[Awaitable[None]] = []
        for e in self._entries():
            have = e.crl is not None if isinstance(e, _CrlEntry) else e.verdict is not None
            if isinstance(e, _CrlEntry) and e.issuer is None:
                continue
            if not self._due(e.attempted_at, e.refresh_at(), have, now):
                continue
            if isinstance(e, _CrlEntry):
                jobs.append(self._once(("crl", e.url), self._fetch_crl, e))
            else:
                jobs.append(self._once(("ocsp", e.url, e.cert.der.hex()), self._fetch_ocsp, e))
        if jobs:
            await asyncio.gather(*jobs)
        return len(jobs)

    def _next_wake(self) -> float:
        now = self._clock()
        wake = self.max_interval_s
        for e in self._entries():
            refresh = e.refresh_at()
            if refresh is not None:
                wake = min(wake, (refresh - self.refresh_margin - now).total_seconds())
            elif e.attempted_at is not None:
                wake = min(wake, (e.attempted_at + self.retry_after - now).total_seconds())
        return max(self.min_interval_s, wake)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh what is due until ``stop`` is set (a failure is logged, never ends the loop)."""
        while not stop.is_set():
            try:
                await self.refresh_due()
            except Exception:  # noqa: BLE001 - the refresher must outlive any one bad answer
                log.exception("revocation refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._next_wake())

    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` as a task of the running loop (once)."""
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self.run(self._stop), name="revocation-refresh")
        return self._task

    async def close(self) -> None:
        """Stop the background refresh (waits for it)."""
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = self._stop = None

    # ------------------------------------------------------------ the cache directory

    def _file(self, kind: str, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / kind / hashlib.sha256(key.encode()).hexdigest()

    def _store(self, kind: str, key: str, body: bytes, meta: dict[str, Any]) -> None:
        path = self._file(kind, key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path.with_suffix(".der"), body)
            write_atomic(path.with_suffix(".json"), json.dumps(meta).encode())
        except OSError as exc:
            log.warning("revocation cache not written (%s): %s", path.parent, exc)

    def _load_cache(self) -> None:
        if self.cache_dir is None:
            return
        now = self._clock()
        for meta_file in sorted((self.cache_dir / "crl").glob("*.json")):
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                crls = load_crls(meta_file.with_suffix(".der").read_bytes())
                issuer = parse_certificate(base64.b64decode(meta["issuer"])) if meta.get("issuer") else None
                if len(crls) != 1 or (issuer is not None and not crl_signed_by(crls[0], issuer, self.backend)):
                    continue
                url = str(meta["url"])
                self._crls[url] = _CrlEntry(url, crls[0], issuer, datetime.fromisoformat(meta["fetched_at"]))
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                log.warning("revocation cache entry %s unreadable; skipped", meta_file.name)
        for meta_file in sorted((self.cache_dir / "ocsp").glob("*.json")):
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                body = meta_file.with_suffix(".der").read_bytes()
                cert = parse_certificate(base64.b64decode(meta["cert"]))
                issuer = parse_certificate(base64.b64decode(meta["issuer"]))
                url = str(meta["url"])
                fetched = datetime.fromisoformat(meta["fetched_at"])
                verdict = check_ocsp(body, cert, issuer, fetched, source=_ocsp_source(url), now=now, backend=self.backend)
                if verdict.state == "unavailable":
                    continue
                self._ocsp[(url, cert.der)] = _OcspEntry(url, cert, issuer, body, verdict, fetched)
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                log.warning("revocation cache entry %s unreadable; skipped", meta_file.name)

