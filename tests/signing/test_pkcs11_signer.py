"""Keys in a PKCS#11 token (signing/pkcs11_signer.py) against a real SoftHSM2 token.

SoftHSM2 (Debian 2.6.1) has no GOST mechanism, so the token plumbing (module, token,
login, key lookup, a signature made on the token, the refusals) is exercised with an
ECDSA P-256 key generated on a temporary token and a test-only ECDSA ``SignMechanism``;
the GOST mechanism itself is exercised only as far as SoftHSM2 refusing it.  The GOST
byte-order conversion is checked against signatures of the process's OpenSSL backend and
an independent implementation (gostcrypto).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gostcrypto
import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.keyring import KeyRing
from gateway.core.settings import KeysSettings
from signing import oids
from signing.backend import Backend
from signing.gost_asn1 import parse_spki
from signing.keys import GostSigner
from signing.pkcs11_signer import (
    CKM_GOSTR3410,
    CKM_GOSTR3410_512,
    GOST_R3410_2012,
    Pkcs11Error,
    SignMechanism,
    Token,
    TokenKey,
    gost_public_key_matches,
    gost_signature_from_token,
    gost_signature_rs,
    load_token_signer,
)
from signing.test_pki import TestPKI

PyKCS11 = pytest.importorskip("PyKCS11")

TOKEN_LABEL = "шлюз-тест"
PIN = "12345678"
SO_PIN = "87654321"
SIGNER_ID = bytes.fromhex("0a01")
OTHER_ID = bytes.fromhex("0a02")
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so")  # fmt: skip
P256 = bytes.fromhex("06082a8648ce3d030107")  # DER OID prime256v1

# Test only: the token signs the gateway's digest with ECDSA, its raw r || s is kept as is
ECDSA_FOR_TESTS = SignMechanism(name="ECDSA (тест)", mechanism_for=lambda size: 0x1041, signature_from_token=lambda raw, size: raw)


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str
    public_points: dict[bytes, bytes]  # key id -> uncompressed EC point


def _generate(session: Any, label: str, key_id: bytes) -> bytes:
    p = PyKCS11
    public, _ = session.generateKeyPair(
        [(p.CKA_CLASS, p.CKO_PUBLIC_KEY), (p.CKA_TOKEN, True), (p.CKA_KEY_TYPE, p.CKK_EC), (p.CKA_EC_PARAMS, P256),
         (p.CKA_LABEL, label), (p.CKA_ID, key_id), (p.CKA_VERIFY, True)],
        [(p.CKA_CLASS, p.CKO_PRIVATE_KEY), (p.CKA_TOKEN, True), (p.CKA_KEY_TYPE, p.CKK_EC), (p.CKA_LABEL, label),
         (p.CKA_ID, key_id), (p.CKA_SIGN, True), (p.CKA_PRIVATE, True), (p.CKA_SENSITIVE, True),
         (p.CKA_EXTRACTABLE, False)],
        mecha=p.MechanismECGENERATEKEYPAIR,
    )  # fmt: skip
    point = bytes(session.getAttributeValue(public, [p.CKA_EC_POINT], True)[0])
    return point[2:]  # DER OCTET STRING around 04 || X || Y


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory, pki: TestPKI) -> Iterator[SoftToken]:
    """A SoftHSM2 token in a temporary directory with two ECDSA keys generated on it and one certificate."""
    util = shutil.which("softhsm2-util")
    module = next((m for m in MODULES if Path(m).is_file()), None)
    if util is None or module is None:
        pytest.skip("SoftHSM2 не установлен (scripts/system-deps ставит softhsm2)")
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run([util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN, "--so-pin", SO_PIN],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        lib = PyKCS11.PyKCS11Lib().load(module)
        slot = next(s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == TOKEN_LABEL)
        session = lib.openSession(slot, PyKCS11.CKF_RW_SESSION)
        session.login(PIN)
        points = {SIGNER_ID: _generate(session, "подписант", SIGNER_ID), OTHER_ID: _generate(session, "другой", OTHER_ID)}
        p = PyKCS11
        session.createObject([(p.CKA_CLASS, p.CKO_CERTIFICATE), (p.CKA_TOKEN, True), (p.CKA_CERTIFICATE_TYPE, p.CKC_X_509),
                              (p.CKA_ID, SIGNER_ID), (p.CKA_LABEL, "подписант"),
                              (p.CKA_SUBJECT, pki.certificate("provider").subject_der),
                              (p.CKA_VALUE, pki.certificate("provider").der)])  # fmt: skip
        session.logout()
        session.closeSession()
        yield SoftToken(module, TOKEN_LABEL, PIN, points)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def token(softhsm: SoftToken) -> Iterator[Token]:
    t = Token(softhsm.module, softhsm.label, softhsm.pin)
    try:
        yield t
    finally:
        t.close()


def _verify_ecdsa(point: bytes, digest: bytes, signature: bytes) -> None:
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hashes.SHA256())))


# --- the token plumbing, for real on SoftHSM2 ------------------------------------------------


@pytest.mark.parametrize(("label", "key_id"), [("подписант", None), (None, SIGNER_ID), ("подписант", SIGNER_ID)])
def test_signature_made_on_the_token_verifies(
    token: Token, softhsm: SoftToken, pki: TestPKI, label: str | None, key_id: bytes | None
) -> None:
    cert = pki.certificate("provider")
    signer = load_token_signer(token, label=label, key_id=key_id, certificate=cert, mechanism=ECDSA_FOR_TESTS)
    assert isinstance(signer, GostSigner) and signer.certificate is cert
    data = "документ для подписи".encode()
    signature = signer.sign(data)
    _verify_ecdsa(softhsm.public_points[SIGNER_ID], signer.backend.digest("streebog256", data), signature)
    with pytest.raises(InvalidSignature):  # the other key's public key does not verify it
        _verify_ecdsa(softhsm.public_points[OTHER_ID], signer.backend.digest("streebog256", data), signature)
    with pytest.raises(InvalidSignature):  # nor does it verify other data
        _verify_ecdsa(softhsm.public_points[SIGNER_ID], signer.backend.digest("streebog256", b"other"), signature)


def test_key_by_id_is_that_key(token: Token, softhsm: SoftToken, pki: TestPKI) -> None:
    signer = load_token_signer(token, key_id=OTHER_ID, certificate=pki.certificate("provider"), mechanism=ECDSA_FOR_TESTS)
    digest = signer.backend.digest("streebog256", b"x")
    _verify_ecdsa(softhsm.public_points[OTHER_ID], digest, signer.sign_digest(digest))


def test_certificate_read_from_the_token(token: Token, pki: TestPKI) -> None:
    signer = load_token_signer(token, key_id=SIGNER_ID, mechanism=ECDSA_FOR_TESTS)
    assert signer.certificate.der == pki.certificate("provider").der
    by_label = load_token_signer(token, label="подписант", mechanism=ECDSA_FOR_TESTS)
    assert by_label.certificate.der == pki.certificate("provider").der
    with pytest.raises(Pkcs11Error) as e:
        load_token_signer(token, key_id=OTHER_ID, mechanism=ECDSA_FOR_TESTS)
    assert e.value.code == "pkcs11_certificate_not_found"


def test_sessions_per_thread_share_the_login(token: Token, softhsm: SoftToken, pki: TestPKI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    signer = load_token_signer(token, key_id=SIGNER_ID, certificate=pki.certificate("provider"), mechanism=ECDSA_FOR_TESTS)
    data = [f"документ {i}".encode() for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        signatures = list(pool.map(signer.sign, data))
    for d, sig in zip(data, signatures, strict=True):
        _verify_ecdsa(softhsm.public_points[SIGNER_ID], signer.backend.digest("streebog256", d), sig)
    assert len(token._sessions) > 1  # the other threads opened sessions of their own, without a login


def test_private_key_stays_on_the_token(token: Token, pki: TestPKI) -> None:
    key = TokenKey(token, pki.certificate("provider"), key_id=SIGNER_ID, mechanism=ECDSA_FOR_TESTS)
    with pytest.raises(Pkcs11Error) as e:
        key.pkcs8()
    assert e.value.code == "pkcs11_key_not_extractable"
    assert PIN not in repr(key) and PIN not in repr(token)


# --- refusals: clear Russian messages with stable codes ------------------------------------------


def test_module_missing(tmp_path: Path) -> None:
    with pytest.raises(Pkcs11Error) as e:
        Token(tmp_path / "нет.so", TOKEN_LABEL, PIN)
    assert e.value.code == "pkcs11_module_missing" and "модуль PKCS#11 не найден" in str(e.value)
    not_a_module = tmp_path / "not-a-module.so"
    not_a_module.write_bytes(b"\x7fELF not really")
    with pytest.raises(Pkcs11Error) as e:
        Token(not_a_module, TOKEN_LABEL, PIN)
    assert e.value.code == "pkcs11_module_missing" and "не загружен" in str(e.value)


def test_token_not_found(softhsm: SoftToken) -> None:
    with pytest.raises(Pkcs11Error) as e:
        Token(softhsm.module, "нет-такого", PIN)
    assert e.value.code == "pkcs11_token_not_found"
    assert "«нет-такого»" in str(e.value) and f"«{TOKEN_LABEL}»" in str(e.value)


def test_wrong_pin(softhsm: SoftToken) -> None:
    with pytest.raises(Pkcs11Error) as e:
        Token(softhsm.module, softhsm.label, "00000000")
    assert e.value.code == "pkcs11_pin_invalid" and "неверный PIN-код" in str(e.value)
    assert "00000000" not in str(e.value)
    with pytest.raises(Pkcs11Error) as e:
        Token(softhsm.module, softhsm.label, None)
    assert e.value.code == "pkcs11_pin_missing"


def test_key_not_found(token: Token, pki: TestPKI) -> None:
    for label, key_id in (("нет-ключа", None), (None, b"\xff"), ("подписант", OTHER_ID)):
        with pytest.raises(Pkcs11Error) as e:
            load_token_signer(token, label=label, key_id=key_id, certificate=pki.certificate("provider"), mechanism=ECDSA_FOR_TESTS)
        assert e.value.code == "pkcs11_key_not_found" and "не найден" in str(e.value)


@pytest.mark.parametrize("size", [32, 64])
def test_token_without_gost_is_refused(token: Token, pki: TestPKI, size: int) -> None:
    """SoftHSM2 has no GOST: the production mechanism is refused before any signature is tried."""
    cert = pki.certificate("provider")
    assert cert.key_size == 32
    assert not token.supports_signing(CKM_GOSTR3410 if size == 32 else CKM_GOSTR3410_512)
    with pytest.raises(Pkcs11Error) as e:
        load_token_signer(token, key_id=SIGNER_ID, certificate=cert, mechanism=GOST_R3410_2012)
    assert e.value.code == "pkcs11_mechanism_unsupported" and "ГОСТ Р 34.10-2012" in str(e.value)
    with pytest.raises(Pkcs11Error) as e:  # and C_Sign itself refuses it
        token.sign(None, SIGNER_ID, CKM_GOSTR3410, b"\x00" * 32)
    assert e.value.code == "pkcs11_mechanism_unsupported"


# --- GOST byte order: the token's layout against our own OpenSSL signatures --------------------


def _gostcrypto_verifies(cert_spki: bytes, digest: bytes, r: int, s: int) -> bool:
    """Independent check (gostcrypto): big-endian X || Y, digest read as a little-endian number, r || s."""
    key = parse_spki(cert_spki)
    size = key.size
    curve = gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[oids.CURVE_BY_PARAMSET[key.paramset]]
    mode = gostcrypto.gostsignature.MODE_256 if size == 32 else gostcrypto.gostsignature.MODE_512
    point = key.point_le[:size][::-1] + key.point_le[size:][::-1]
    rs = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return bool(gostcrypto.gostsignature.new(mode, curve).verify(bytearray(point), bytearray(digest[::-1]), bytearray(rs)))


def test_token_layout_is_ours(openssl_backend: Backend, pki: TestPKI) -> None:
    signer = pki.signer("provider")
    cert = signer.certificate
    data = b"<SignedInfo/>"
    digest = openssl_backend.digest("streebog256", data)
    ours = signer.key.sign_digest(digest)  # OpenSSL's GOST: s || r
    r, s = gost_signature_rs(ours)
    assert _gostcrypto_verifies(cert.public_key_info, digest, r, s)
    assert not _gostcrypto_verifies(cert.public_key_info, digest, s, r)
    # PKCS#11 v2.30: "the concatenation of s and r', both 32-byte big-endian"
    from_token = s.to_bytes(32, "big") + r.to_bytes(32, "big")
    converted = gost_signature_from_token(from_token, 32)
    assert converted == ours
    assert openssl_backend.load_public_key(cert.public_key_info).verify_digest(digest, converted)


@given(st.sampled_from([32, 64]), st.integers(min_value=1), st.integers(min_value=1))
def test_token_signature_round_trip(size: int, r: int, s: int) -> None:
    r, s = r % (1 << (8 * size)) or 1, s % (1 << (8 * size)) or 1
    assert gost_signature_rs(gost_signature_from_token(s.to_bytes(size, "big") + r.to_bytes(size, "big"), size)) == (r, s)


def test_malformed_token_signature() -> None:
    for raw, size in ((b"\x01" * 63, 32), (b"\x01" * 64, 64), (b"\x00" * 32 + b"\x01" * 32, 32), (b"\x01" * 32 + b"\x00" * 32, 32)):
        with pytest.raises(Pkcs11Error) as e:
            gost_signature_from_token(raw, size)
        assert e.value.code == "pkcs11_signature_malformed"


def test_gost_public_key_match(pki: TestPKI) -> None:
    cert = pki.certificate("provider")
    assert gost_public_key_matches(parse_spki(cert.public_key_info).point_le, cert)
    assert not gost_public_key_matches(parse_spki(pki.certificate("authorized_body").public_key_info).point_le, cert)


# --- the key registry: an entry with pkcs11: gives the token signer --------------------------------


def _ring(tmp_path: Path, softhsm: SoftToken, pki: TestPKI, entry: dict[str, Any], **keys: Any) -> KeyRing:
    (tmp_path / "provider.pem").write_bytes(pki.certificate("provider").pem)
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(yaml.safe_dump({"keys": [{"municipality": "livny", "org": "*", "role": "*", **entry}]}, allow_unicode=True))
    settings = KeysSettings(pkcs11_module=Path(softhsm.module), pkcs11_token_label=softhsm.label, **keys)
    return KeyRing(keys_file, tmp_path, pkcs11=settings, pkcs11_mechanism=ECDSA_FOR_TESTS)


async def test_keyring_entry_resolves_to_the_token(
    tmp_path: Path, softhsm: SoftToken, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TOKEN_PIN", softhsm.pin)
    ring = _ring(tmp_path, softhsm, pki, {"pkcs11": {"id": SIGNER_ID.hex()}, "certificate": "provider.pem"},
                 pkcs11_pin_env="TEST_TOKEN_PIN")  # fmt: skip
    try:
        signer = ring.signer_for("livny", "org")
        assert signer is not None and isinstance(signer.key, TokenKey)
        assert signer.certificate.der == pki.certificate("provider").der
        assert ring.signer_for("livny", "org") is signer
        data = b"<PackageData/>"
        _verify_ecdsa(softhsm.public_points[SIGNER_ID], signer.backend.digest("streebog256", data), signer.sign(data))
    finally:
        await ring.close()


async def test_keyring_token_pin_from_file_and_label(tmp_path: Path, softhsm: SoftToken, pki: TestPKI) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm.pin + "\n")
    ring = _ring(tmp_path, softhsm, pki, {"pkcs11": {"label": "другой"}}, pkcs11_pin_file=pin_file)
    try:
        with pytest.raises(Pkcs11Error) as e:  # no certificate in the entry, none on the token for this key
            ring.signer_for("livny", "org")
        assert e.value.code == "pkcs11_certificate_not_found"
    finally:
        await ring.close()


async def test_keyring_without_token_settings(tmp_path: Path, softhsm: SoftToken, pki: TestPKI) -> None:
    (tmp_path / "keys.yaml").write_text(yaml.safe_dump({"keys": [{"pkcs11": {"label": "подписант"}}]}, allow_unicode=True))
    ring = KeyRing(tmp_path / "keys.yaml", tmp_path)
    with pytest.raises(Pkcs11Error) as e:
        ring.signer_for("livny", "org")
    assert e.value.code == "pkcs11_module_missing" and "GATEWAY_KEYS__PKCS11_MODULE" in str(e.value)


async def test_keyring_does_not_retry_a_refused_pin(
    tmp_path: Path, softhsm: SoftToken, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong PIN is tried once: real tokens lock the PIN after a few wrong attempts."""
    monkeypatch.setenv("TEST_TOKEN_PIN", "00000000")
    ring = _ring(tmp_path, softhsm, pki, {"pkcs11": {"id": SIGNER_ID.hex()}}, pkcs11_pin_env="TEST_TOKEN_PIN")
    with pytest.raises(Pkcs11Error) as first:
        ring.signer_for("livny", "org")
    assert first.value.code == "pkcs11_pin_invalid"
    monkeypatch.setenv("TEST_TOKEN_PIN", softhsm.pin)  # fixed in the environment: takes a restart, not a retry
    with pytest.raises(Pkcs11Error) as again:
        ring.signer_for("livny", "org")
    assert again.value is first.value
    await ring.close()
