"""TrustStore: chain verdicts with revocation and policy, kept until their evidence changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from signing import cms, xmldsig
from signing.certificates import Certificate
from signing.revocation import RevocationStatus
from signing.revocation_source import RevocationSource
from signing.test_pki import TestPKI, create_test_pki
from signing.trust_store import TrustStore


class FixedLookup:
    """A revocation cache whose answer the test sets (the store is what is under test here)."""

    def __init__(self, status: RevocationStatus) -> None:
        self.answer = status
        self.asked = 0
        self.prefetched: list[tuple[int, int]] = []

    def status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        self.asked += 1
        return self.answer

    async def prefetch(self, cert: Certificate, issuer: Certificate) -> None:
        self.prefetched.append((cert.serial, issuer.serial))


def now() -> datetime:
    return datetime.now(UTC)


def test_static_crl_good_revoked_expired(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    ok = store.validate(pki.certificate("provider"))
    assert ok.ok and ok.revocation == "good" and ok.warnings == ()
    assert [c.serial for c in ok.path] == [pki.certificate("provider").serial, pki.ca.certificate.serial]
    revoked = store.validate(pki.certificate("revoked"))
    assert not revoked.ok and revoked.code == "revoked" and revoked.revocation == "revoked"
    assert "отозван" in revoked.message
    assert store.validate(pki.certificate("expired")).code == "expired"


def test_without_revocation_sources_revocation_is_not_checked(pki: TestPKI) -> None:
    result = TrustStore([pki.ca.certificate]).validate(pki.certificate("revoked"))
    assert result.ok and result.revocation == "not_checked"


def test_untrusted_and_key_usage(pki: TestPKI) -> None:
    other = create_test_pki(parties=(), ocsp_responder=False)
    store = TrustStore([other.ca.certificate], crls=[pki.crl])
    assert store.validate(pki.certificate("provider")).code == "bad_signature"  # same CA name, other key
    assert pki.ocsp is not None
    own = TrustStore([pki.ca.certificate], crls=[pki.crl])
    assert own.validate(pki.ocsp.certificate, require_key_usage="key_cert_sign").code == "key_usage"


def test_hard_policy_refuses_when_status_cannot_be_had(pki: TestPKI) -> None:
    lookup = FixedLookup(RevocationStatus.unavailable("crl_unavailable", "список отзыва http://127.0.0.1:9/ca.crl недоступен"))
    result = TrustStore([pki.ca.certificate], source=lookup, policy="hard").validate(pki.certificate("provider"))
    assert not result.ok and result.code == "crl_unavailable" and result.revocation == "unavailable"
    assert "не получен" in result.message and "http://127.0.0.1:9/ca.crl" in result.message


def test_soft_policy_accepts_with_a_warning(pki: TestPKI) -> None:
    lookup = FixedLookup(RevocationStatus.unavailable("crl_unavailable", "список отзыва http://127.0.0.1:9/ca.crl недоступен"))
    result = TrustStore([pki.ca.certificate], source=lookup, policy="soft").validate(pki.certificate("provider"))
    assert result.ok and result.revocation == "unavailable"
    assert len(result.warnings) == 1 and result.warnings[0].endswith("[crl_unavailable]")
    assert "http://127.0.0.1:9/ca.crl" in result.warnings[0]


def test_unknown_is_refused_under_hard_and_warned_under_soft(pki: TestPKI) -> None:
    lookup = FixedLookup(RevocationStatus.unknown("OCSP http://127.0.0.1:9/ocsp", now(), now() + timedelta(hours=1)))
    hard = TrustStore([pki.ca.certificate], source=lookup).validate(pki.certificate("provider"))
    assert not hard.ok and hard.code == "ocsp_unknown" and hard.revocation == "unknown"
    soft = TrustStore([pki.ca.certificate], source=lookup, policy="soft").validate(pki.certificate("provider"))
    assert soft.ok and soft.revocation == "unknown" and soft.warnings


def test_revoked_is_refused_under_soft_too(pki: TestPKI) -> None:
    lookup = FixedLookup(RevocationStatus.revoked("OCSP x", now() - timedelta(hours=1), "key_compromise"))
    result = TrustStore([pki.ca.certificate], source=lookup, policy="soft").validate(pki.certificate("provider"))
    assert not result.ok and result.code == "revoked"


def test_a_cache_hit_returns_the_kept_verdict(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    first = store.validate(pki.certificate("provider"))
    assert (store.hits, store.misses) == (0, 1)
    second = store.validate(pki.certificate("provider"))
    assert second is first and (store.hits, store.misses) == (1, 1)


def test_new_revocation_evidence_gives_a_new_verdict(pki: TestPKI) -> None:
    t = now()
    lookup = FixedLookup(RevocationStatus.good("OCSP x", t, t + timedelta(hours=1)))
    store = TrustStore([pki.ca.certificate], source=lookup)
    assert store.validate(pki.certificate("provider")).ok
    lookup.answer = RevocationStatus.revoked("OCSP x", t - timedelta(minutes=1), None, t)
    result = store.validate(pki.certificate("provider"))
    assert not result.ok and result.code == "revoked"


def test_static_crl_replaced_invalidates(pki: TestPKI) -> None:
    t = now()
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    provider = pki.certificate("provider")
    assert store.validate(provider).ok
    store.set_crls([pki.issue_crl(t - timedelta(minutes=1), t + timedelta(hours=1), {**pki.revoked, provider.serial: t - timedelta(seconds=30)})])
    assert store.validate(provider).code == "revoked"


def test_changed_anchors_drop_kept_paths(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    assert store.validate(pki.certificate("provider")).ok
    other = create_test_pki(parties=(), ocsp_responder=False)
    store.set_anchors([other.ca.certificate])
    assert not store.validate(pki.certificate("provider")).ok
    store.set_anchors([pki.ca.certificate])
    assert store.validate(pki.certificate("provider")).ok


def test_time_passing_next_update_or_not_after_changes_the_verdict(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    provider = pki.certificate("provider")
    assert store.validate(provider).ok
    assert pki.crl.next_update is not None
    stale = store.validate(provider, at=pki.crl.next_update + timedelta(seconds=1))
    assert not stale.ok and stale.code == "crl_expired" and stale.revocation == "unavailable"
    soft = TrustStore([pki.ca.certificate], crls=[pki.crl], policy="soft")
    late = soft.validate(provider, at=provider.not_after + timedelta(seconds=1))
    assert late.code == "expired"


def test_anchor_check_sees_the_path_and_time(pki: TestPKI) -> None:
    seen: list[tuple[tuple[int, ...], datetime]] = []
    refuse = {"on": False}

    def check(path: Sequence[Certificate], at: datetime) -> tuple[str, str] | None:
        seen.append((tuple(c.serial for c in path), at))
        return ("anchor_not_accredited", "УЦ не аккредитован на момент подписи") if refuse["on"] else None

    store = TrustStore([pki.ca.certificate], crls=[pki.crl], anchor_check=check)
    at = now()
    assert store.validate(pki.certificate("provider"), at=at).ok
    assert seen == [((pki.certificate("provider").serial, pki.ca.certificate.serial), at)]
    refuse["on"] = True
    result = store.validate(pki.certificate("provider"), at=at)
    assert not result.ok and result.code == "anchor_not_accredited" and "аккредитован" in result.message


async def test_prefetch_asks_for_every_link(pki: TestPKI) -> None:
    lookup = FixedLookup(RevocationStatus.good("x", now(), None))
    store = TrustStore([pki.ca.certificate], source=lookup)
    result = await store.validate_async(pki.certificate("provider"))
    assert result.ok
    assert lookup.prefetched == [(pki.certificate("provider").serial, pki.ca.certificate.serial)]
    await store.prefetch(create_test_pki(parties=(), ocsp_responder=False).ca.certificate)  # untrusted: nothing asked
    assert len(lookup.prefetched) == 1


def test_policy_must_be_known(pki: TestPKI) -> None:
    with pytest.raises(ValueError):
        TrustStore([pki.ca.certificate], policy="lenient")  # type: ignore[arg-type]


def test_cms_and_xmldsig_take_the_store(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    data = "<doc>данные</doc>".encode()
    good = cms.verify_detached(cms.sign_detached(data, pki.signer("provider")), data, trust=store)
    assert good[0].ok and good[0].chain is not None and good[0].chain.revocation == "good"
    bad = cms.verify_detached(cms.sign_detached(data, pki.signer("revoked")), data, trust=store)
    assert not bad[0].ok and bad[0].chain is not None and bad[0].chain.code == "revoked"
    xml = b'<root xmlns="urn:test"><item Id="a">x</item></root>'
    for role, code in (("provider", "ok"), ("revoked", "revoked")):
        reports = xmldsig.verify(xmldsig.sign_element(xml, "a", pki.signer(role)), trust=store)
        assert len(reports) == 1 and reports[0].chain is not None and reports[0].chain.code == code


def test_static_crl_speaks_alone_when_the_source_has_no_address(pki: TestPKI) -> None:
    stale = pki.issue_crl(now() - timedelta(days=2), now() - timedelta(days=1))
    store = TrustStore([pki.ca.certificate], crls=[stale], source=RevocationSource(None))
    result = store.validate(pki.certificate("provider"))  # its certificate names no CDP or OCSP
    assert not result.ok and result.code == "crl_expired" and "устарел" in result.message
    store.set_crls([pki.crl])
    assert store.validate(pki.certificate("provider")).ok
