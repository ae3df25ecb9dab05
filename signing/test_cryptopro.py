"""Test vectors: GOST PKCS#12 containers in the shapes CryptoPro CSP and TC26 tools write.

The project makes its own vectors (no foreign key files in the repository): a key and
certificate of the test PKI go into a PFX of one of these variants, which
:func:`signing.cryptopro_pfx.read_pfx` must open.

``tc26-gost89``       Р 50.1.112-2016: PBES2 (PBKDF2 HMAC-Streebog-512, GOST 28147-89 CFB,
                      CryptoPro-A), MAC HMAC-Streebog-512 keyed by the last 32 of 96 PBKDF2 bytes.
``tc26-kuznyechik``   the same with Kuznyechik CTR-ACPKM (RFC 9337; parameters as the GOST engine encodes them).
``cryptopro-gost94``  CryptoPro CSP's export: PBES2 (PBKDF2 HMAC-GOST R 34.11-94, GOST 28147-89
                      CFB, CryptoPro-A), MAC HMAC-GOST R 34.11-94 keyed by RFC 7292 appendix B.
``cryptopro-keybag``  CryptoPro's own key bag (PBE ``1.2.840.113549.1.12.1.80``, key export blob),
                      certificates under pbeWithSHAAnd40BitRC2-CBC, MAC HMAC-SHA-1 (RFC 7292).

``masked=True`` stores the key masked (``K || M``, d = K·M mod q) as TC26 tools may.
For ``cryptopro-keybag`` the fields the public decoders do not read (the rest of the
CryptoAPI blob header, the blob's second field and trailing octets) are filled with
neutral values of our choosing.  Nothing is written to disk here.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any, cast

from asn1crypto import core

from signing import cryptopro_pfx as cp
from signing import oids
from signing.certificates import Certificate
from signing.gost_asn1 import PrivateKeyInfo, parse_pkcs8
from signing.libcrypto import check_ptr, i2d, lib

__all__ = ["VARIANTS", "make_cryptopro_pfx", "masked_pkcs8"]

VARIANTS = ("tc26-gost89", "tc26-kuznyechik", "cryptopro-gost94", "cryptopro-keybag")

_GOST94_CRYPTOPRO_PARAMS = "1.2.643.2.2.30.1"
_GOST28147_CRYPTOPRO_A = "1.2.643.2.2.31.1"
_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
_NID_PBE_SHA1_RC2_40 = 149


class _AnySet(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class _Attribute(core.Sequence):  # type: ignore[misc]
    _fields = [("type", core.ObjectIdentifier), ("values", _AnySet)]


class _Attributes(core.SetOf):  # type: ignore[misc]
    _child_spec = _Attribute


class _Gost89Params(core.Sequence):  # type: ignore[misc]
    _fields = [("iv", core.OctetString), ("param_set", core.ObjectIdentifier)]


def _any(value: Any) -> core.Any:
    return core.Any.load(value.dump())


def _explicit0(value: Any) -> core.Any:
    """``[0] EXPLICIT`` around ``value`` (asn1crypto keeps that tag on ``Any`` fields as given)."""
    inner = cast(bytes, value.dump())
    n = len(inner)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return core.Any.load(b"\xa0" + length + inner, explicit=0)


def _alg(oid: str, params: Any = None) -> cp._Alg:
    return cp._Alg({"algorithm": oid} if params is None else {"algorithm": oid, "parameters": _any(params)})


def _pbes2_gost89(prf: str, prf_params: Any, salt: bytes, iterations: int) -> bytes:
    kdf = cp._Pbkdf2Params({"salt": _any(core.OctetString(salt)), "iterations": iterations, "prf": _alg(prf, prf_params)})
    scheme = _alg(cp.GOST28147, _Gost89Params({"iv": secrets.token_bytes(8), "param_set": _GOST28147_CRYPTOPRO_A}))
    params = cp._Pbes2Params({"kdf": _alg(cp.PBKDF2, kdf), "scheme": scheme})
    return cast(bytes, _alg(cp.PBES2, params).dump())


def _pbes2_by_openssl(cipher: bytes, prf: str, salt: bytes, iterations: int) -> bytes:
    """PBES2 AlgorithmIdentifier as libcrypto and the engine encode it (the cipher's own parameters)."""
    evp = check_ptr(lib.EVP_get_cipherbyname(cipher), f"cipher {cipher.decode()}")
    algor = check_ptr(lib.PKCS5_pbe2_set_iv_ex(evp, iterations, salt, len(salt), None, lib.OBJ_txt2nid(prf.encode()), None),
                      "PKCS5_pbe2_set_iv_ex")  # fmt: skip
    try:
        return i2d("i2d_X509_ALGOR", algor)
    finally:
        lib.X509_ALGOR_free(algor)


def _pkcs12_pbe(nid: int, salt: bytes, iterations: int) -> bytes:
    algor = check_ptr(lib.PKCS5_pbe_set_ex(nid, iterations, salt, len(salt), cp._legacy_context()), "PKCS5_pbe_set_ex")
    try:
        return i2d("i2d_X509_ALGOR", algor)
    finally:
        lib.X509_ALGOR_free(algor)


def masked_pkcs8(pkcs8: bytes) -> bytes:
    """The same key stored masked: ``K || M`` with a random mask M and K = d · M⁻¹ mod q."""
    key = parse_pkcs8(pkcs8)
    size = oids.KEY_SIZE[key.algorithm]
    q = cp._curve_order(key.paramset)
    mask = secrets.randbelow(q - 1) + 1
    k = key.d * pow(mask, -1, q) % q
    raw = k.to_bytes(size, "little") + mask.to_bytes(size, "little")
    plain = cp._pkcs8(key.algorithm, key.paramset, key.digest_paramset, 0)
    info = PrivateKeyInfo.load(plain)
    return cast(bytes, PrivateKeyInfo({"version": 0, "private_key_algorithm": info["private_key_algorithm"],
                                          "private_key": raw}).dump())  # fmt: skip


def _cryptopro_keybag(pkcs8: bytes, password: str, iterations: int) -> cp._EncryptedPrivateKeyInfo:
    key = parse_pkcs8(pkcs8)
    size = oids.KEY_SIZE[key.algorithm]
    salt = secrets.token_bytes(16)
    password_key = cp.cryptopro_password_key(password.encode("utf-16-le"), salt, iterations)
    ukm = secrets.token_bytes(8)
    kek = cp.kdf_gostr3411_2012_256(password_key, cp._KEK_LABEL, ukm)
    d_le = key.d.to_bytes(size, "little")
    export = cp._CpExportBlob({
        "value": {
            "ukm": ukm,
            "cek": {"enc": cp.gost89_ecb(kek, d_le, encrypt=True), "mac": cp.gost89_imit(kek, ukm, d_le)},
            "key_info": {
                "attributes": core.BitString(()),
                "algorithm": {"algorithm": key.algorithm,
                              "parameters": {"curve": key.paramset, "digest": key.digest_paramset or oids.STREEBOG256}},
            },
        },
        "extra": b"",
    })  # fmt: skip
    alg_id = cp.CALG_DH_GR3410_12_256 if size == 32 else cp.CALG_DH_GR3410_12_512
    header = b"\x07\x02\x00\x00" + alg_id.to_bytes(4, "little") + b"MAG1" + (size * 8).to_bytes(4, "little")
    blob = cp._CpBlob({"version": 0, "info": _any(_alg(key.algorithm)), "value": header + cast(bytes, export.dump())})
    encrypted = cp.gost89_cfb(password_key, salt[:8], cast(bytes, blob.dump()), encrypt=True)
    params = cp._CpPbeParams({"salt": salt, "iterations": iterations})
    return cp._EncryptedPrivateKeyInfo({"algorithm": _alg(cp.CRYPTOPRO_KEYBAG_PBE, params), "data": encrypted})


def _attributes(key_id: bytes, name: str) -> core.Any:
    attrs = _Attributes([
        {"type": _LOCAL_KEY_ID, "values": [_any(core.OctetString(key_id))]},
        {"type": _FRIENDLY_NAME, "values": [_any(core.BMPString(name))]},
    ])  # fmt: skip
    return _any(attrs)


def _bag(bag_id: str, value: Any, attributes: core.Any | None = None) -> cp._SafeBag:
    bag: dict[str, Any] = {"bag_id": bag_id, "bag_value": _explicit0(value)}
    if attributes is not None:
        bag["attributes"] = attributes
    return cp._SafeBag(bag)


def make_cryptopro_pfx(
    pkcs8: bytes,
    certificate: Certificate,
    password: str,
    *,
    variant: str = "cryptopro-gost94",
    chain: Sequence[Certificate] = (),
    masked: bool = False,
    iterations: int = 2000,
    name: str = "csp_exported",
    key_algorithm: bytes | None = None,
) -> bytes:
    """A PFX of ``variant`` holding ``pkcs8`` (the test PKI's key) and its certificate (+ ``chain``).

    ``key_algorithm``: an AlgorithmIdentifier (DER) put on the key bag instead of the real
    one, with random bytes for the encrypted key: a container the reader must refuse.
    """
    if variant not in VARIANTS:
        raise ValueError(f"неизвестный вариант {variant}; есть {', '.join(VARIANTS)}")
    cp._require_engine()
    pw = password.encode("utf-8")
    key_id = hashlib.sha1(certificate.der, usedforsecurity=False).digest()

    def pbe(what: str) -> bytes:
        salt = secrets.token_bytes(32 if variant.startswith("tc26") else 8)
        if variant == "tc26-gost89":
            return _pbes2_gost89(cp.HMAC_STREEBOG512, core.Null(), salt, iterations)
        if variant == "tc26-kuznyechik":
            return _pbes2_by_openssl(b"kuznyechik-ctr-acpkm", cp.HMAC_STREEBOG512, salt, iterations)
        if variant == "cryptopro-gost94" or what == "key":
            return _pbes2_gost89(cp.HMAC_GOST94, core.ObjectIdentifier(_GOST94_CRYPTOPRO_PARAMS), salt, iterations)
        return _pkcs12_pbe(_NID_PBE_SHA1_RC2_40, salt, iterations)

    # the key bag
    if key_algorithm is not None:
        epki = cp._EncryptedPrivateKeyInfo({"algorithm": cp._Alg.load(key_algorithm), "data": secrets.token_bytes(80)})
    elif variant == "cryptopro-keybag":
        epki = _cryptopro_keybag(pkcs8, password, iterations)
    else:
        alg = pbe("key")
        plain = masked_pkcs8(pkcs8) if masked else pkcs8
        epki = cp._EncryptedPrivateKeyInfo({"algorithm": cp._Alg.load(alg), "data": cp.pbe_crypt(alg, pw, plain, encrypt=True)})
    key_bags = cp._SafeContents([_bag(cp.SHROUDED_KEY_BAG, epki, _attributes(key_id, name))])
    # the certificates, encrypted
    cert_bags = cp._SafeContents([
        _bag(cp.CERT_BAG, cp._CertBag({"cert_id": cp.X509_CERTIFICATE, "cert_value": _explicit0(core.OctetString(c.der))}),
             _attributes(key_id, name) if i == 0 else None)
        for i, c in enumerate((certificate, *chain))
    ])  # fmt: skip
    cert_alg = pbe("certificates")
    encrypted_certs = cp._EncryptedData({
        "version": 0,
        "info": {"content_type": cp.DATA, "algorithm": cp._Alg.load(cert_alg),
                 "content": cp.pbe_crypt(cert_alg, pw, cast(bytes, cert_bags.dump()), encrypt=True)},
    })  # fmt: skip
    safes = cp._AuthenticatedSafe([
        {"content_type": cp.ENCRYPTED_DATA, "content": _explicit0(encrypted_certs)},
        {"content_type": cp.DATA, "content": _explicit0(core.OctetString(cast(bytes, key_bags.dump())))},
    ])  # fmt: skip
    content = cast(bytes, safes.dump())
    # the MAC
    salt = secrets.token_bytes(32 if variant.startswith("tc26") else 8)
    if variant.startswith("tc26"):
        mac_alg, mac = _alg(oids.STREEBOG512), cp.pfx_mac(b"md_gost12_512", "tc26", pw, salt, iterations, content)
    elif variant == "cryptopro-gost94":
        mac_alg = _alg(oids.GOST94, core.ObjectIdentifier(_GOST94_CRYPTOPRO_PARAMS))
        mac = cp.pfx_mac(b"md_gost94", "pkcs12", pw, salt, iterations, content)
    else:
        mac_alg, mac = _alg("1.3.14.3.2.26", core.Null()), cp.pfx_mac(b"SHA1", "pkcs12", pw, salt, iterations, content)
    pfx = cp._Pfx({
        "version": 3,
        "auth_safe": {"content_type": cp.DATA, "content": _explicit0(core.OctetString(content))},
        "mac_data": {"mac": {"algorithm": mac_alg, "digest": mac}, "salt": salt, "iterations": iterations},
    })  # fmt: skip
    return cast(bytes, pfx.dump())
