"""CryptoPro / TC26 PKCS#12 containers: vectors made by signing.test_cryptopro, read back, used to sign."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import cast

import pytest
import yaml
from asn1crypto import core

from gateway.app.cli import main
from signing import cms
from signing import cryptopro_pfx as cp
from signing.backend import Backend
from signing.cryptopro_pfx import PfxError, gost89_ecb, gost89_imit, normalize_private_key, read_pfx
from signing.gost_asn1 import parse_pkcs8, parse_spki
from signing.gost_engine import openssl_env
from signing.keys import GostSigner, KeyFileError, load_signer, read_key_material
from signing.test_cryptopro import VARIANTS, make_cryptopro_pfx, masked_pkcs8
from signing.test_pki import TestPKI, create_test_pki

PASSWORD = "Пароль для PFX 1"
ITERATIONS = 200  # enough to exercise the KDFs; real exports use 2000


@pytest.fixture(scope="module", params=[32, 64], ids=["256", "512"])
def pki_by_size(request: pytest.FixtureRequest, gost_engine: Backend) -> TestPKI:
    return create_test_pki(size=request.param, paramset="A")


def _same_key(pkcs8: bytes, signer: GostSigner, backend: Backend) -> bool:
    key = backend.load_private_key(pkcs8, signer.certificate.key_size)
    return parse_spki(key.public_key_info()).point_le == parse_spki(signer.certificate.public_key_info).point_le


def _pfx(pki: TestPKI, variant: str, **kw: object) -> bytes:
    s = pki.signer("provider")
    return make_cryptopro_pfx(s.key.pkcs8(), s.certificate, PASSWORD, variant=variant, chain=[pki.ca.certificate],
                              iterations=ITERATIONS, **kw)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_opens_to_the_same_key_and_its_certificates(pki_by_size: TestPKI, gost_engine: Backend, variant: str) -> None:
    signer = pki_by_size.signer("provider")
    contents = read_pfx(_pfx(pki_by_size, variant), PASSWORD)
    assert _same_key(contents.pkcs8, signer, gost_engine)
    assert [c.der for c in contents.certificates] == [signer.certificate.der, pki_by_size.ca.certificate.der]
    assert not contents.masked
    assert "ключ скрыт" in repr(contents) and contents.pkcs8.hex() not in repr(contents)
    expected = {"tc26-gost89": "ГОСТ 28147-89", "tc26-kuznyechik": "Кузнечик CTR-ACPKM",
                "cryptopro-gost94": "HMAC ГОСТ Р 34.11-94", "cryptopro-keybag": "PBE КриптоПро"}[variant]  # fmt: skip
    assert expected in contents.variant


@pytest.mark.parametrize("variant", ["tc26-gost89", "tc26-kuznyechik", "cryptopro-gost94"])
def test_a_masked_key_is_unmasked(pki_by_size: TestPKI, gost_engine: Backend, variant: str) -> None:
    signer = pki_by_size.signer("provider")
    contents = read_pfx(_pfx(pki_by_size, variant, masked=True), PASSWORD)
    assert contents.masked and "маскирован" in contents.variant
    assert _same_key(contents.pkcs8, signer, gost_engine)
    assert parse_pkcs8(contents.pkcs8).d == parse_pkcs8(signer.key.pkcs8()).d


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_wrong_password_is_named(pki: TestPKI, gost_engine: Backend, variant: str) -> None:
    data = _pfx(pki, variant)
    for wrong in ("", "пароль для PFX 1", PASSWORD + " "):
        with pytest.raises(PfxError) as exc:
            read_pfx(data, wrong)
        assert exc.value.code == "pfx_password_invalid"
        assert "неверный пароль" in exc.value.message


def test_a_container_without_mac_still_refuses_a_wrong_password(pki: TestPKI, gost_engine: Backend) -> None:
    """With the MAC gone, the key bag's decryption (CryptoPro's blob does not parse) is what refuses."""
    pfx = cp._Pfx.load(_pfx(pki, "cryptopro-keybag"))
    bare = cp._Pfx({"version": 3, "auth_safe": pfx["auth_safe"]}).dump()
    assert read_pfx(bare, PASSWORD).pkcs8
    with pytest.raises(PfxError) as exc:
        read_pfx(bare, "другой пароль")
    assert exc.value.code == "pfx_password_invalid"


def _alg(oid: str, params: object = None) -> cp._Alg:
    value: dict[str, object] = {"algorithm": oid}
    if params is not None:
        value["parameters"] = core.Any.load(params.dump())  # type: ignore[attr-defined]
    return cp._Alg(value)


def _pbes2(kdf_oid: str, scheme_oid: str) -> bytes:
    kdf = cp._Pbkdf2Params({"salt": core.Any.load(core.OctetString(bytes(8)).dump()), "iterations": 2048,
                            "prf": _alg(cp.HMAC_STREEBOG512)})  # fmt: skip
    params = cp._Pbes2Params({"kdf": _alg(kdf_oid, kdf), "scheme": _alg(scheme_oid, core.OctetString(bytes(8)))})
    return cast(bytes, _alg(cp.PBES2, params).dump())


@pytest.mark.parametrize(
    ("algorithm", "oid"),
    [
        (_pbes2(cp.PBKDF2, "1.2.3.4.5.6.7"), "1.2.3.4.5.6.7"),  # PBES2 with an encryption scheme nobody knows
        (_pbes2("1.2.3.4.5.6.8", cp.GOST28147), "1.2.3.4.5.6.8"),  # PBES2 with an unknown key derivation
        (_alg("1.2.840.113549.1.12.1.99", core.Null()).dump(), "1.2.840.113549.1.12.1.99"),  # an unknown PKCS#12 PBE
        (_alg("1.2.3.99", core.Null()).dump(), "1.2.3.99"),  # not a PBE at all
    ],
)
def test_an_unsupported_variant_names_what_was_found(pki: TestPKI, gost_engine: Backend, algorithm: bytes, oid: str) -> None:
    data = _pfx(pki, "tc26-gost89", key_algorithm=algorithm)
    with pytest.raises(PfxError) as exc:
        read_pfx(data, PASSWORD)
    assert exc.value.code == "container_unsupported"
    assert oid in exc.value.message


def test_not_a_pkcs12_file(gost_engine: Backend, pki: TestPKI) -> None:
    for data in (b"", b"not a container", pki.ca.certificate.der, pki.signer("provider").key.pkcs8()):
        with pytest.raises(PfxError) as exc:
            read_pfx(data, PASSWORD)
        assert exc.value.code == "not_pkcs12"


def test_a_truncated_container_is_refused_cleanly(pki: TestPKI, gost_engine: Backend) -> None:
    data = _pfx(pki, "cryptopro-gost94")
    for cut in (10, len(data) // 2, len(data) - 3):
        with pytest.raises(PfxError):
            read_pfx(data[:cut], PASSWORD)


def test_cryptopro_key_wrap_round_trip_and_mac(gost_engine: Backend) -> None:
    kek, ukm, key = bytes(range(32)), bytes(range(8)), bytes(range(100, 132))
    enc = gost89_ecb(kek, key, encrypt=True)
    assert enc != key and gost89_ecb(kek, enc, encrypt=False) == key
    mac = gost89_imit(kek, ukm, key)
    assert len(mac) == 4 and mac != gost89_imit(kek, bytes(8), key) and mac != gost89_imit(kek, ukm, enc)


def test_normalize_accepts_every_key_form(pki: TestPKI, gost_engine: Backend) -> None:
    plain = pki.signer("provider").key.pkcs8()
    d = parse_pkcs8(plain).d
    once, masked = normalize_private_key(plain)
    assert not masked and parse_pkcs8(once).d == d and normalize_private_key(once)[0] == once
    unmasked, masked = normalize_private_key(masked_pkcs8(plain))
    assert masked and unmasked == once


@pytest.mark.parametrize("variant", VARIANTS)
def test_read_key_material_falls_back_and_the_key_signs(pki: TestPKI, gost_engine: Backend, variant: str, tmp_path: Path) -> None:
    signer = pki.signer("provider")
    path = tmp_path / "export.pfx"
    path.write_bytes(_pfx(pki, variant))
    material = read_key_material(path.read_bytes(), PASSWORD)
    assert material.certificates[0].der == signer.certificate.der
    loaded = load_signer(path, None, PASSWORD)
    assert loaded.certificate.der == signer.certificate.der
    sig = cms.sign_detached(b"agreement", loaded)
    [report] = cms.verify_detached(sig, b"agreement", trusted=[pki.ca.certificate], crl=[pki.crl])
    assert report.ok, report.errors
    with pytest.raises(KeyFileError, match="pfx_password_invalid"):
        read_key_material(path.read_bytes(), "не тот")


@pytest.mark.parametrize("variant", ["tc26-gost89", "tc26-kuznyechik", "cryptopro-gost94"])
def test_openssl_reads_the_generated_vectors_too(pki: TestPKI, gost_engine: Backend, variant: str, tmp_path: Path) -> None:
    """An independent reader: the openssl tool with the GOST engine (its legacy MAC switch for CryptoPro's)."""
    if shutil.which("openssl") is None:
        pytest.skip("нет openssl")
    path = tmp_path / "v.pfx"
    path.write_bytes(_pfx(pki, variant))
    env = openssl_env(kind="engine")
    env.pop("LEGACY_GOST_PKCS12", None)
    if variant == "cryptopro-gost94":
        env["LEGACY_GOST_PKCS12"] = "1"
    proc = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-nodes"],
                          capture_output=True, env=env, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"BEGIN PRIVATE KEY" in proc.stdout and proc.stdout.count(b"BEGIN CERTIFICATE") == 2


def test_keys_import_cli(pki: TestPKI, gost_engine: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    signer = pki.signer("provider")
    src = tmp_path / "director.pfx"
    src.write_bytes(_pfx(pki, "cryptopro-keybag"))
    monkeypatch.setenv("PFX_PASSWORD", PASSWORD)
    out = tmp_path / "keys"
    assert main(["keys", "import", str(src), "--out", str(out), "--password-env", "PFX_PASSWORD", "--name", "provider"]) == 0
    text = capsys.readouterr().out
    key_file = out / "provider.p12"
    assert "[imported]" in text and "Владелец: ООО «Кружки и секции»" in text and "Действителен: с" in text
    assert key_file.stat().st_mode & 0o077 == 0
    assert PASSWORD not in text and os.environ["PFX_PASSWORD"] not in text
    assert parse_pkcs8(signer.key.pkcs8()).d.to_bytes(32, "little").hex() not in text
    snippet = yaml.safe_load(text[text.index("keys:"):])
    assert snippet["keys"][0]["key"] == str(key_file.resolve()) and snippet["keys"][0]["password_env"] == "PFX_PASSWORD"
    # the written key is the gateway's ordinary PKCS#12 and signs
    loaded = load_signer(key_file, None, PASSWORD)
    assert loaded.certificate.der == signer.certificate.der and [c.der for c in loaded.chain] == [pki.ca.certificate.der]
    assert cms.verify_detached(cms.sign_detached(b"x", loaded), b"x")[0].crypto_ok
    # re-encrypted with another password
    monkeypatch.setenv("NEW_PASSWORD", "новый")
    assert main(["keys", "import", str(src), "--out", str(out), "--password-env", "PFX_PASSWORD",
                 "--new-password-env", "NEW_PASSWORD", "--name", "again"]) == 0  # fmt: skip
    assert "password_env: NEW_PASSWORD" in capsys.readouterr().out
    assert load_signer(out / "again.p12", None, "новый").certificate.der == signer.certificate.der
    # a wrong password: exit 1 and the code; a file that is no container: exit 2
    monkeypatch.setenv("PFX_PASSWORD", "не тот")
    assert main(["keys", "import", str(src), "--out", str(out), "--password-env", "PFX_PASSWORD"]) == 1
    assert "[pfx_password_invalid]" in capsys.readouterr().err
    bogus = tmp_path / "bogus.pfx"
    bogus.write_bytes(b"hello")
    assert main(["keys", "import", str(bogus), "--out", str(out), "--password-env", "PFX_PASSWORD"]) == 2
    assert "[not_pkcs12]" in capsys.readouterr().err
