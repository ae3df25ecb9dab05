"""KeyRing.trust_store: built from ca.pem, follows ca.crl, its revocation cache under the data directory."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.keyring import KeyRing
from gateway.core.settings import RevocationSettings, load_settings
from signing.test_pki import TestPKI, create_test_pki


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return create_test_pki()


def keyring(pki: TestPKI, tmp_path: Path, **settings: object) -> KeyRing:
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir(exist_ok=True)
    (pki_dir / "ca.pem").write_bytes(pki.ca.certificate.pem)
    (pki_dir / "ca.crl").write_bytes(pki.crl.pem)
    return KeyRing(tmp_path / "keys.yaml", pki_dir, revocation=RevocationSettings(**settings), data_dir=tmp_path)


def test_trust_store_from_the_pki_directory(pki: TestPKI, tmp_path: Path) -> None:
    keys = keyring(pki, tmp_path)
    store = keys.trust_store
    assert store is keys.trust_store and store.policy == "hard"
    assert keys.revocation_cache_dir == tmp_path / "revocation"
    assert store.validate(pki.certificate("provider")).ok
    assert store.validate(pki.certificate("revoked")).code == "revoked"


def test_a_changed_ca_crl_is_taken(pki: TestPKI, tmp_path: Path) -> None:
    keys = keyring(pki, tmp_path, policy="soft")
    provider = pki.certificate("provider")
    assert keys.trust_store.validate(provider).ok
    now = datetime.now(UTC)
    crl = pki.issue_crl(now - timedelta(minutes=1), now + timedelta(hours=1), {provider.serial: now - timedelta(seconds=5)})
    path = keys.pki_dir / "ca.crl"
    path.write_bytes(crl.pem)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert keys.trust_store.validate(provider).code == "revoked"


async def test_background_refresh_starts_and_stops(pki: TestPKI, tmp_path: Path) -> None:
    keys = keyring(pki, tmp_path)
    task = keys.start()
    assert not task.done()
    await keys.close()
    assert task.done()


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_REVOCATION__POLICY", "soft")
    monkeypatch.setenv("GATEWAY_REVOCATION__OCSP", "false")
    monkeypatch.setenv("GATEWAY_REVOCATION__FETCH_TIMEOUT_S", "1.5")
    settings = load_settings()
    assert settings.revocation.policy == "soft" and settings.revocation.ocsp is False
    assert settings.revocation.fetch_timeout_s == 1.5
    monkeypatch.setenv("GATEWAY_REVOCATION__POLICY", "lenient")
    with pytest.raises(ValueError):
        load_settings()


def test_an_imported_trusted_list_adds_its_cas_with_their_accreditation(tmp_path: Path) -> None:
    """``gateway trust import-tsl`` → the key ring trusts the listed CAs, honouring accreditation dates."""
    from gateway.app.cli import main
    from signing.test_tsl import create_test_tsl

    tsl = create_test_tsl()
    (tmp_path / "tsl.xml").write_bytes(tsl.signed)
    (tmp_path / "ministry.pem").write_bytes(tsl.ministry.certificate.pem)
    pki_dir = tmp_path / "pki"
    assert main(["trust", "import-tsl", str(tmp_path / "tsl.xml"), "--pki-dir", str(pki_dir),
                 "--signer-cert", str(tmp_path / "ministry.pem")]) == 0  # fmt: skip
    # The test list's end-entity certificates name no CRL or OCSP address: soft policy, so the chain decides.
    keys = KeyRing(tmp_path / "keys.yaml", pki_dir, data_dir=tmp_path, tsl_signer_cert=tmp_path / "ministry.pem",
                   revocation=RevocationSettings(policy="soft"))  # fmt: skip
    assert keys.trusted_list is not None and len(keys.trusted) == 2  # no ca.pem: the two listed CAs
    store = keys.trust_store
    assert store.validate(tsl.user("closed_during")).ok  # issued while accredited: valid after the end
    refused = store.validate(tsl.user("closed_after"))
    assert not refused.ok and refused.code == "ca_not_accredited_at_issue"

    # The list changed on disk after the import: its signature no longer holds, its CAs stop counting.
    stored = pki_dir / "tsl" / "tsl.xml"
    stored.write_bytes(stored.read_bytes().replace("<ИНН>5700000101".encode(), "<ИНН>5700000102".encode()))
    os.utime(stored, ns=(stored.stat().st_atime_ns, stored.stat().st_mtime_ns + 1_000_000))
    assert keys.trusted_list is None and keys.tsl_problem and keys.trusted == []
    assert keys.trust_store.validate(tsl.user("closed_during")).code == "untrusted"
