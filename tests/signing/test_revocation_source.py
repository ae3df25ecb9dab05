"""RevocationSource against the CA emulator on loopback: CDP, OCSP, cache directory, refresh, policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signing.revocation_source import RevocationSource
from signing.test_pki import issue_certificate
from signing.trust_store import Policy, TrustStore
from tests.support.ca import CaPKI, ca_pki, running_ca


@pytest.fixture(scope="module")
def net() -> CaPKI:
    """A test PKI whose certificates name a CDP and an OCSP responder on one loopback port."""
    return ca_pki()


@pytest.fixture(scope="module")
def crl_only() -> CaPKI:
    return ca_pki(ocsp=False)


def store(setup: CaPKI, source: RevocationSource, policy: Policy = "hard") -> TrustStore:
    return TrustStore([setup.pki.ca.certificate], source=source, policy=policy)


def source(tmp_path: Path, **kw: object) -> RevocationSource:
    args: dict[str, object] = {"fetch_timeout_s": 2.0, "retry_after_s": 0.0}
    args.update(kw)
    return RevocationSource(tmp_path / "revocation", **args)  # type: ignore[arg-type]


async def test_cdp_unreachable_hard_refuses_naming_it(crl_only: CaPKI, tmp_path: Path) -> None:
    trust = store(crl_only, source(tmp_path))  # nothing listens on the emulator's port
    result = await trust.validate_async(crl_only.pki.certificate("provider"))
    assert not result.ok and result.code == "crl_unavailable" and result.revocation == "unavailable"
    assert crl_only.crl_url in result.message and "недоступен" in result.message


async def test_cdp_unreachable_soft_accepts_with_warning(crl_only: CaPKI, tmp_path: Path) -> None:
    trust = store(crl_only, source(tmp_path), "soft")
    result = await trust.validate_async(crl_only.pki.certificate("provider"))
    assert result.ok and result.revocation == "unavailable"
    assert len(result.warnings) == 1 and crl_only.crl_url in result.warnings[0]


async def test_crl_from_the_distribution_point_good_and_revoked(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        src = source(tmp_path)
        trust = store(crl_only, src)
        good = await trust.validate_async(crl_only.pki.certificate("provider"))
        assert good.ok and good.revocation == "good"
        revoked = await trust.validate_async(crl_only.pki.certificate("revoked"))
        assert not revoked.ok and revoked.code == "revoked"
        assert ca.state.crl_requests == 1  # one list for both certificates (cached until nextUpdate)


async def test_expired_crl_refetched_still_expired_is_refused(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        await ca.control("/_emulator/ca/settings", {"crl_next_update_s": -60, "crl_this_update_s": -3600})
        src = source(tmp_path)
        trust = store(crl_only, src)
        first = await trust.validate_async(crl_only.pki.certificate("provider"))
        assert not first.ok and first.code == "crl_expired"
        second = await trust.validate_async(crl_only.pki.certificate("provider"))  # due again: fetched again
        assert ca.state.crl_requests == 2
        assert not second.ok and second.code == "crl_expired" and "устарел" in second.message


async def test_crl_with_bad_signature_is_not_taken(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        await ca.control("/_emulator/ca/settings", {"crl_signer": "rogue"})
        trust = store(crl_only, source(tmp_path))
        result = await trust.validate_async(crl_only.pki.certificate("revoked"))
        assert not result.ok and result.code == "crl_invalid" and "подпись" in result.message
        assert not (tmp_path / "revocation" / "crl").exists() or not list((tmp_path / "revocation" / "crl").glob("*.der"))


async def test_crl_in_pem_and_size_limit(crl_only: CaPKI, tmp_path: Path) -> None:
    pki = crl_only.pki
    t = datetime.now(UTC)
    key = pki.ca.key  # any key will do for a certificate the CA issues here
    cert = issue_certificate(pki.ca, key, {"CN": "PEM"}, not_before=t - timedelta(days=1), not_after=t + timedelta(days=1),
                             crl_urls=(crl_only.crl_url + "?pem=1",))  # fmt: skip
    async with running_ca(crl_only):
        ok = await store(crl_only, source(tmp_path)).validate_async(cert)
        assert ok.ok and ok.revocation == "good"
        small = await store(crl_only, source(tmp_path / "small", max_crl_bytes=64)).validate_async(cert)
        assert not small.ok and small.code == "crl_unavailable" and "больше 64 байт" in small.message


async def test_ocsp_good_revoked_unknown(net: CaPKI, tmp_path: Path) -> None:
    async with running_ca(net) as ca:
        await ca.control("/_emulator/faults", {"status": 500, "paths": ["/crl/"]})  # only OCSP speaks
        provider = net.pki.certificate("provider")
        trust = store(net, source(tmp_path))
        good = await trust.validate_async(provider)
        assert good.ok and good.revocation == "good"
        assert ca.state.ocsp_requests == 1
        revoked = await trust.validate_async(net.pki.certificate("revoked"))
        assert not revoked.ok and revoked.code == "revoked" and "OCSP" in revoked.message
        await ca.control("/_emulator/ca/unknown", {"serial": format(net.pki.certificate("finance").serial, "x")})
        unknown = await trust.validate_async(net.pki.certificate("finance"))
        assert not unknown.ok and unknown.code == "ocsp_unknown" and unknown.revocation == "unknown"


async def test_ocsp_signed_by_unauthorised_responder_is_refused(net: CaPKI, tmp_path: Path) -> None:
    async with running_ca(net) as ca:
        await ca.control("/_emulator/faults", {"status": 500, "paths": ["/crl/"]})
        await ca.control("/_emulator/ca/settings", {"ocsp_signer": "rogue"})
        result = await store(net, source(tmp_path)).validate_async(net.pki.certificate("provider"))
        assert not result.ok and result.code == "ocsp_unauthorized"
        assert "не уполномоченным" in result.message


async def test_ocsp_500_and_timeout_are_unavailable(net: CaPKI, tmp_path: Path) -> None:
    async with running_ca(net) as ca:
        await ca.control("/_emulator/faults", {"status": 500})
        failed = await store(net, source(tmp_path)).validate_async(net.pki.certificate("provider"))
        assert not failed.ok and failed.revocation == "unavailable" and "HTTP 500" in failed.message
        await ca.control("/_emulator/faults", {"latency_ms": 1000})
        slow = await store(net, source(tmp_path / "slow", fetch_timeout_s=0.3)).validate_async(net.pki.certificate("provider"))
        assert not slow.ok and "нет ответа за 0.3 с" in slow.message


async def test_cache_survives_a_restart_without_network(net: CaPKI, tmp_path: Path) -> None:
    async with running_ca(net):
        first = source(tmp_path)
        assert (await store(net, first).validate_async(net.pki.certificate("provider"))).ok
        assert first.fetches == 2  # the CRL and the OCSP answer
    files = sorted(p.parent.name for p in (tmp_path / "revocation").rglob("*.der"))
    assert files == ["crl", "ocsp"]
    again = source(tmp_path)  # a new process: the emulator is gone
    trust = store(net, again)
    result = trust.validate(net.pki.certificate("provider"))
    assert result.ok and result.revocation == "good" and again.fetches == 0
    revoked = trust.validate(net.pki.certificate("revoked"))
    assert not revoked.ok and revoked.code == "revoked"  # from the kept CRL


async def test_background_refresh_picks_up_a_new_revocation(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        src = source(tmp_path, refresh_margin_s=10**6, min_interval_s=0.05)
        trust = store(crl_only, src)
        provider = crl_only.pki.certificate("provider")
        first = await trust.validate_async(provider)
        assert first.ok
        src.start()
        try:
            await ca.control("/_emulator/ca/revoke", {"serial": format(provider.serial, "x"), "reason": "key_compromise"})
            result = trust.validate(provider)
            for _ in range(200):  # bounded: the refresher runs every 0.05 s
                if not result.ok:
                    break
                await asyncio.sleep(0.05)
                result = trust.validate(provider)
        finally:
            await src.close()
        assert not result.ok and result.code == "revoked" and "компрометация ключа" in result.message


async def test_trust_store_verdict_changes_with_the_refreshed_evidence(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        src = source(tmp_path, refresh_margin_s=10**6)
        trust = store(crl_only, src)
        provider = crl_only.pki.certificate("finance")
        assert (await trust.validate_async(provider)).ok
        assert trust.validate(provider).ok and trust.hits == 1
        ca.state.revoke(provider.serial)
        assert await src.refresh_due() == 1
        assert trust.validate(provider).code == "revoked"


async def test_concurrent_prefetches_fetch_once(crl_only: CaPKI, tmp_path: Path) -> None:
    async with running_ca(crl_only) as ca:
        trust = store(crl_only, source(tmp_path))
        certs = [crl_only.pki.certificate(r) for r in ("provider", "finance", "authorized_body", "gateway")]
        await asyncio.gather(*(trust.prefetch(c) for c in certs))
        assert ca.state.crl_requests == 1
        assert all(trust.validate(c).ok for c in certs)


async def test_static_crl_file_is_a_source_and_reloaded(crl_only: CaPKI, tmp_path: Path) -> None:
    pki = crl_only.pki
    static = tmp_path / "ca.crl"
    static.write_bytes(pki.crl.pem)
    src = RevocationSource(None, static_crl_files=[static])
    trust = TrustStore([pki.ca.certificate], source=src)
    assert not trust.validate(pki.certificate("revoked")).ok  # CDP never fetched, the file says revoked
    provider = pki.certificate("provider")
    assert trust.validate(provider).ok  # the file speaks; the unfetched CDP does not outvote it
    t = datetime.now(UTC)
    static.write_bytes(pki.issue_crl(t - timedelta(minutes=1), t + timedelta(hours=1), {provider.serial: t - timedelta(seconds=10)}).pem)
    assert src.reload_static()
    assert trust.validate(provider).code == "revoked"
