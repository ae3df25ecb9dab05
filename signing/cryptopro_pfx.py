"""Key containers exported as PKCS#12 / PFX by CryptoPro CSP and other GOST tools: reading them.

Three kinds of file are met, all PKCS#12 (RFC 7292) on the outside:

1. Р 50.1.112-2016 / RFC 9548 (TC26): PBES2 with PBKDF2-HMAC-Streebog-512 and GOST
   28147-89 CFB or Kuznyechik/Magma CTR-ACPKM (RFC 9337), MAC HMAC-Streebog-512 whose key
   is the last 32 of 96 PBKDF2 bytes; the key may be "masked" (``key || mask…``).
2. CryptoPro CSP's standard export: PBES2 with PBKDF2-HMAC-GOST R 34.11-94 and GOST
   28147-89 CFB (CryptoPro-A), MAC HMAC-GOST R 34.11-94 keyed by RFC 7292 appendix B.
3. CryptoPro's own key bag (PBE OID ``1.2.840.113549.1.12.1.80``): a CryptoPro key
   export blob (the key wrapped by the CryptoPro key wrap of RFC 4357 §6 with KEK =
   KDF_GOSTR3411_2012_256 of Р 50.1.113-2016) under GOST 28147-89 CFB keyed by
   iterated GOST R 34.11-94 of the UTF-16LE password; the certificates travel under an
   ordinary PKCS#12 PBE (40-bit RC2 and the like).

What libraries already do, and is used here: libcrypto with the GOST engine decrypts
every PBES2 and PKCS#12-PBE section and bag (``PKCS12_pbe_crypt_ex``) and provides all
the primitives (GOST R 34.11-94, Streebog, HMAC, PBKDF2, the RFC 7292 key generator,
GOST 28147-89 CFB/CBC and its MAC).  Debian's GOST *provider* cannot parse the GOST
cipher parameters of PBES2 ("cipher parameter error"), so the engine is required.

What is hand-written here, and why:

* the MAC check.  libcrypto's ``PKCS12_verify_mac`` picks the key derivation of a GOST
  MAC from the process environment (``LEGACY_GOST_PKCS12``, read at each call): it
  checks variant 1 or variant 2, never both, and a library must not flip the
  environment of the process it runs in.  Both derivations are computed here with
  libcrypto's ``PKCS5_PBKDF2_HMAC``, ``PKCS12_key_gen_utf8`` and ``HMAC``;
* CryptoPro's key bag (variant 3): no library on this platform reads it (OpenSSL, the
  GOST engine and provider, ``gostcrypto``; PyGOST is not installable from PyPI).  Its
  framing follows the public open-source decoders of these files; the cryptography is libcrypto's;
* unmasking a masked key (``key · mask₁ · … mod q``), so that the result is the plain
  PKCS#8 every backend loads, the pure-Python one included.

Errors carry a stable code: ``not_pkcs12``, ``pfx_password_invalid``,
``container_unsupported`` (naming the OIDs found), ``pfx_key_count``,
``pfx_key_integrity``, ``gost_engine_missing``.  Nothing here logs or prints key material.
"""

from __future__ import annotations

import ctypes
import hmac
import threading
from collections.abc import Iterable
from ctypes import c_int, c_uint, c_void_p
from dataclasses import dataclass, field
from typing import Any, cast

import gostcrypto
from asn1crypto import core, parser

from signing import oids
from signing.certificates import Certificate, parse_certificate
from signing.errors import CodedError
from signing.gost_asn1 import AlgorithmIdentifier, KeyParams, PrivateKeyInfo
from signing.libcrypto import OpenSSLError, check, check_ptr, clear_errors, d2i, last_error, lib

__all__ = [
    "PfxError",
    "PfxContents",
    "read_pfx",
    "looks_like_pkcs12",
    "normalize_private_key",
    "OID_NAMES",
    "PBES2",
    "PBKDF2",
    "CRYPTOPRO_KEYBAG_PBE",
]

# object identifiers of the containers
DATA = "1.2.840.113549.1.7.1"
ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
KEY_BAG = "1.2.840.113549.1.12.10.1.1"
SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
CERT_BAG = "1.2.840.113549.1.12.10.1.3"
SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"
X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
PKCS12_PBE_ARC = "1.2.840.113549.1.12.1."
CRYPTOPRO_KEYBAG_PBE = "1.2.840.113549.1.12.1.80"
HMAC_GOST94 = "1.2.643.2.2.10"
HMAC_STREEBOG256 = "1.2.643.7.1.1.4.1"
HMAC_STREEBOG512 = "1.2.643.7.1.1.4.2"
GOST28147 = "1.2.643.2.2.21"

OID_NAMES: dict[str, str] = {
    PBES2: "PBES2",
    PBKDF2: "PBKDF2",
    CRYPTOPRO_KEYBAG_PBE: "PBE КриптоПро (ключевой блоб CSP)",
    HMAC_GOST94: "HMAC ГОСТ Р 34.11-94",
    HMAC_STREEBOG256: "HMAC ГОСТ Р 34.11-2012 (256)",
    HMAC_STREEBOG512: "HMAC ГОСТ Р 34.11-2012 (512)",
    "1.2.840.113549.2.7": "HMAC SHA-1",
    "1.2.840.113549.2.9": "HMAC SHA-256",
    GOST28147: "ГОСТ 28147-89 (CFB)",
    "1.2.643.7.1.1.5.1.1": "Магма CTR-ACPKM",
    "1.2.643.7.1.1.5.1.2": "Магма CTR-ACPKM-OMAC",
    "1.2.643.7.1.1.5.2.1": "Кузнечик CTR-ACPKM",
    "1.2.643.7.1.1.5.2.2": "Кузнечик CTR-ACPKM-OMAC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC",
    oids.GOST94: "ГОСТ Р 34.11-94",
    oids.STREEBOG256: "ГОСТ Р 34.11-2012 (256)",
    oids.STREEBOG512: "ГОСТ Р 34.11-2012 (512)",
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
}
# MAC digest OID -> libcrypto name
_MAC_DIGESTS = {
    oids.GOST94: b"md_gost94",
    oids.STREEBOG256: b"md_gost12_256",
    oids.STREEBOG512: b"md_gost12_512",
    "1.3.14.3.2.26": b"SHA1",
    "2.16.840.1.101.3.4.2.1": b"SHA256",
    "2.16.840.1.101.3.4.2.2": b"SHA384",
    "2.16.840.1.101.3.4.2.3": b"SHA512",
}
_GOST_MAC_DIGESTS = frozenset({oids.GOST94, oids.STREEBOG256, oids.STREEBOG512})
_PKCS12_MAC_ID = 3
_KEK_LABEL = bytes.fromhex("26bdb878")  # Р 50.1.113-2016 KDF label of the CryptoPro key export
# ALG_ID of the CryptoAPI key blob header: exchange (DH) and signature keys, 256 and 512 bits
CALG_DH_GR3410_12_256 = 0xAA46
CALG_DH_GR3410_12_512 = 0xAA42
_CALG_KEY_SIZE = {CALG_DH_GR3410_12_256: 32, 0x2E49: 32, CALG_DH_GR3410_12_512: 64, 0x2E3D: 64}
_EVP_MD_CTRL_SET_KEY = 0x1000 + 4  # EVP_MD_CTRL_ALG_CTRL + 4 (GOST engine)
_EVP_CTRL_SET_SBOX = 0x1E  # openssl/evp.h
_CRYPTOPRO_A = b"id-Gost28147-89-CryptoPro-A-ParamSet"


class PfxError(CodedError):
    """A container cannot be read; ``code`` is stable, the message is Russian."""


@dataclass(frozen=True)
class PfxContents:
    """What a container held: the key as plain PKCS#8 DER, the certificates, what kind of file it was."""

    pkcs8: bytes = field(repr=False)
    certificates: tuple[Certificate, ...]
    variant: str  # for people: MAC and encryption found
    masked: bool = False  # the key was stored masked and has been unmasked

    def __repr__(self) -> str:
        return f"PfxContents(<ключ скрыт>, certificates={len(self.certificates)}, variant={self.variant!r})"


# --- ASN.1 (minimal: every value kept raw until it is needed, so no GOST OID trips asn1crypto) ---


class _Alg(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _ContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("content_type", core.ObjectIdentifier), ("content", core.Any, {"explicit": 0, "optional": True})]


class _AuthenticatedSafe(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _ContentInfo


class _DigestInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", _Alg), ("digest", core.OctetString)]


class _MacData(core.Sequence):  # type: ignore[misc]
    _fields = [("mac", _DigestInfo), ("salt", core.OctetString), ("iterations", core.Integer, {"default": 1})]


class _Pfx(core.Sequence):  # type: ignore[misc]
    _fields = [("version", core.Integer), ("auth_safe", _ContentInfo), ("mac_data", _MacData, {"optional": True})]


class _EncryptedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("content_type", core.ObjectIdentifier),
        ("algorithm", _Alg),
        ("content", core.OctetString, {"implicit": 0, "optional": True}),
    ]


class _EncryptedData(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("info", _EncryptedContentInfo),
        ("attributes", core.Any, {"implicit": 1, "optional": True}),
    ]


class _SafeBag(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("bag_id", core.ObjectIdentifier),
        ("bag_value", core.Any, {"explicit": 0}),
        ("attributes", core.Any, {"optional": True}),
    ]


class _SafeContents(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _SafeBag


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", _Alg), ("data", core.OctetString)]


class _CertBag(core.Sequence):  # type: ignore[misc]
    _fields = [("cert_id", core.ObjectIdentifier), ("cert_value", core.Any, {"explicit": 0})]


class _Pbes2Params(core.Sequence):  # type: ignore[misc]
    _fields = [("kdf", _Alg), ("scheme", _Alg)]


class _Pbkdf2Params(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("salt", core.Any),
        ("iterations", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
        ("prf", _Alg, {"optional": True}),
    ]


# CryptoPro's key bag (PBE 1.2.840.113549.1.12.1.80): the layout read by the public decoders
class _CpPbeParams(core.Sequence):  # type: ignore[misc]
    _fields = [("salt", core.OctetString), ("iterations", core.Integer)]


class _CpBlob(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("info", core.Any),
        ("value", core.OctetString),  # 16-byte CryptoAPI key blob header || export blob
        ("extra", core.Any, {"optional": True}),
    ]


class _CpCek(core.Sequence):  # type: ignore[misc]
    _fields = [("enc", core.OctetString), ("mac", core.OctetString)]


class _CpKeyParams(core.Sequence):  # type: ignore[misc]
    _fields = [("curve", core.ObjectIdentifier), ("digest", core.ObjectIdentifier)]


class _CpKeyAlgorithm(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _CpKeyParams)]


class _CpKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("attributes", core.BitString), ("algorithm", _CpKeyAlgorithm, {"implicit": 0})]


class _CpExportValue(core.Sequence):  # type: ignore[misc]
    _fields = [("ukm", core.OctetString), ("cek", _CpCek), ("key_info", _CpKeyInfo, {"implicit": 0})]


class _CpExportBlob(core.Sequence):  # type: ignore[misc]
    _fields = [("value", _CpExportValue), ("extra", core.OctetString)]


# --- primitives (libcrypto with the GOST engine); also used by signing.test_cryptopro ---

_legacy_lock = threading.Lock()
_legacy_ctx: list[int] = []


def _require_engine() -> None:
    from signing.gost_engine import engine_error, load_engine

    if load_engine() is None:
        raise PfxError(
            "gost_engine_missing",
            f"для контейнеров с алгоритмами ГОСТ нужен движок GOST для OpenSSL "
            f"(apt-get install libengine-gost-openssl): {engine_error()}",
        )


def _legacy_context() -> int:
    """A library context of our own with OpenSSL's ``legacy`` provider (40-bit RC2 of old PKCS#12 PBE)."""
    with _legacy_lock:
        if not _legacy_ctx:
            ctx = check_ptr(lib.OSSL_LIB_CTX_new(), "OSSL_LIB_CTX_new")
            for name in (b"legacy", b"default"):
                if not lib.OSSL_PROVIDER_load(ctx, name):
                    err = last_error()
                    lib.OSSL_LIB_CTX_free(ctx)
                    raise OpenSSLError(f"провайдер OpenSSL {name.decode()} не загружен: {err}")
            _legacy_ctx.append(int(ctx))
        return _legacy_ctx[0]


def md(name: bytes) -> int:
    """A digest of the default context (the GOST engine's for GOST names)."""
    return check_ptr(lib.EVP_get_digestbyname(name), f"digest {name.decode()}")


def digest(name: bytes, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(64)
    n = c_uint(0)
    check(lib.EVP_Digest(data, len(data), out, ctypes.byref(n), md(name), None), "EVP_Digest")
    return out.raw[: n.value]


def hmac_digest(name: bytes, key: bytes, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(64)
    n = c_uint(0)
    check_ptr(lib.HMAC(md(name), key, len(key), data, len(data), out, ctypes.byref(n)), "HMAC")
    return out.raw[: n.value]


def pbkdf2(name: bytes, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    out = ctypes.create_string_buffer(length)
    check(lib.PKCS5_PBKDF2_HMAC(password, len(password), salt, len(salt), iterations, md(name), length, out),
          "PKCS5_PBKDF2_HMAC")  # fmt: skip
    return out.raw


def pkcs12_mac_key(name: bytes, password: bytes | None, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 appendix B key for the MAC (ID 3), as long as the digest; ``None``: no password at all."""
    size = int(lib.EVP_MD_get_size(md(name)))
    out = ctypes.create_string_buffer(size)
    pw_len = 0 if password is None else len(password)
    check(lib.PKCS12_key_gen_utf8(password, pw_len, salt, len(salt), _PKCS12_MAC_ID, iterations, size, out, md(name)),
          "PKCS12_key_gen_utf8")  # fmt: skip
    return out.raw


def pfx_mac(name: bytes, scheme: str, password: bytes | None, salt: bytes, iterations: int, content: bytes) -> bytes:
    """The MAC of an AuthenticatedSafe: ``scheme`` ``tc26`` (RFC 9548: last 32 of 96 PBKDF2 bytes) or ``pkcs12``."""
    if scheme == "tc26":
        key = pbkdf2(name, password or b"", salt, iterations, 96)[64:]
    else:
        key = pkcs12_mac_key(name, password, salt, iterations)
    return hmac_digest(name, key, content)


def _cipher(name: bytes, key: bytes, iv: bytes | None, data: bytes, encrypt: bool, sbox: bytes | None = None) -> bytes:
    cipher = check_ptr(lib.EVP_get_cipherbyname(name), f"cipher {name.decode()}")
    ctx = check_ptr(lib.EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new")
    try:
        check(lib.EVP_CipherInit_ex(ctx, cipher, None, key, iv, 1 if encrypt else 0), "EVP_CipherInit_ex")
        if sbox is not None:  # the engine's default S-box is TC26 Z; CryptoPro's formats use CryptoPro-A
            check(lib.EVP_CIPHER_CTX_ctrl(ctx, _EVP_CTRL_SET_SBOX, 0, sbox), "EVP_CTRL_SET_SBOX")
        check(lib.EVP_CIPHER_CTX_set_padding(ctx, 0), "EVP_CIPHER_CTX_set_padding")
        out = ctypes.create_string_buffer(len(data) + 16)
        n = c_int(0)
        check(lib.EVP_CipherUpdate(ctx, out, ctypes.byref(n), data, len(data)), "EVP_CipherUpdate")
        total = n.value
        tail = ctypes.create_string_buffer(16)
        check(lib.EVP_CipherFinal_ex(ctx, tail, ctypes.byref(n)), "EVP_CipherFinal_ex")
        return out.raw[:total] + tail.raw[: n.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


def gost89_cfb(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    """GOST 28147-89 in CFB mode with the CryptoPro-A S-box (the engine's ``gost89``)."""
    return _cipher(b"gost89", key, iv, data, encrypt, _CRYPTOPRO_A)


def gost89_ecb(key: bytes, data: bytes, *, encrypt: bool) -> bytes:
    """GOST 28147-89 ECB (CryptoPro-A): each block through ``gost89-cbc`` with a zero IV."""
    if len(data) % 8:
        raise ValueError("длина данных ГОСТ 28147-89 ECB не кратна 8")
    zero = bytes(8)
    return b"".join(_cipher(b"gost89-cbc", key, zero, data[i : i + 8], encrypt, _CRYPTOPRO_A) for i in range(0, len(data), 8))


def gost89_imit(key: bytes, iv: bytes, data: bytes) -> bytes:
    """GOST 28147-89 MAC (imitovstavka, 4 bytes, CryptoPro-A) over ``data`` starting from ``iv``.

    The engine's ``gost-mac`` starts from a zero state, and the first step is
    E(state ⊕ block): starting from ``iv`` is the same as feeding ``block₁ ⊕ iv``.
    """
    first = bytes(a ^ b for a, b in zip(data[:8], iv, strict=True))
    mctx = check_ptr(lib.EVP_MD_CTX_new(), "EVP_MD_CTX_new")
    try:
        check(lib.EVP_DigestInit_ex(mctx, md(b"gost-mac"), None), "EVP_DigestInit_ex(gost-mac)")
        keybuf = ctypes.create_string_buffer(key, len(key))
        check(lib.EVP_MD_CTX_ctrl(mctx, _EVP_MD_CTRL_SET_KEY, len(key), keybuf), "gost-mac key")
        payload = first + data[8:]
        check(lib.EVP_DigestUpdate(mctx, payload, len(payload)), "EVP_DigestUpdate")
        out = ctypes.create_string_buffer(8)
        n = c_uint(0)
        check(lib.EVP_DigestFinal_ex(mctx, out, ctypes.byref(n)), "EVP_DigestFinal_ex")
        return out.raw[:4]
    finally:
        lib.EVP_MD_CTX_free(mctx)


def kdf_gostr3411_2012_256(key: bytes, label: bytes, seed: bytes) -> bytes:
    """Р 50.1.113-2016 KDF_GOSTR3411_2012_256: HMAC-Streebog-256(K, 01 || label || 00 || seed || 01 00)."""
    return hmac_digest(b"md_gost12_256", key, b"\x01" + label + b"\x00" + seed + b"\x01\x00")


def cryptopro_password_key(password: bytes, salt: bytes, iterations: int) -> bytes:
    """CryptoPro's key bag KDF: K₀ = UTF-16LE password, Kᵢ = GOST R 34.11-94(Kᵢ₋₁ || salt || i as 2 bytes)."""
    key = password
    for i in range(1, iterations + 1):
        key = digest(b"md_gost94", key + salt + (i & 0xFFFF).to_bytes(2, "big"))
    return key


def pbe_crypt(algorithm_der: bytes, password: bytes, data: bytes, *, encrypt: bool) -> bytes:
    """Encrypt or decrypt with a PBES2 or PKCS#12 PBE AlgorithmIdentifier (libcrypto, GOST engine)."""
    oid = cast(str, _Alg.load(algorithm_der)["algorithm"].dotted)
    libctx = _legacy_context() if oid.startswith(PKCS12_PBE_ARC) else None
    algor = d2i("d2i_X509_ALGOR", algorithm_der)
    out = c_void_p(None)
    n = c_int(0)
    try:
        res = lib.PKCS12_pbe_crypt_ex(algor, password, len(password), data, len(data), ctypes.byref(out),
                                      ctypes.byref(n), 1 if encrypt else 0, libctx, None)  # fmt: skip
        if not res or not out.value:
            raise OpenSSLError(last_error())
        try:
            return ctypes.string_at(out.value, n.value)
        finally:
            lib.CRYPTO_free(out.value, None, 0)
    finally:
        lib.X509_ALGOR_free(algor)


# --- reading ---


def looks_like_pkcs12(data: bytes) -> bool:
    """DER ``SEQUENCE { INTEGER 3, ContentInfo … }``: the shape of every PFX."""
    try:
        pfx = _Pfx.load(data)
        return int(pfx["version"].native) == 3 and bool(pfx["auth_safe"]["content_type"].dotted)
    except (ValueError, TypeError, KeyError):
        return False


def _name(oid: str) -> str:
    return f"{OID_NAMES[oid]} ({oid})" if oid in OID_NAMES else oid


def _describe_algorithm(alg: _Alg) -> tuple[str, list[str]]:
    """A Russian description and every OID in a PBE AlgorithmIdentifier."""
    oid = cast(str, alg["algorithm"].dotted)
    if oid != PBES2:
        return _name(oid), [oid]
    try:
        params = _Pbes2Params.load(alg["parameters"].dump())
        kdf, scheme = cast(str, params["kdf"]["algorithm"].dotted), cast(str, params["scheme"]["algorithm"].dotted)
        found = [oid, kdf, scheme]
        prf_text = ""
        if kdf == PBKDF2:
            prf = _Pbkdf2Params.load(params["kdf"]["parameters"].dump())["prf"]
            prf_oid = "1.2.840.113549.2.7" if isinstance(prf, core.Void) else cast(str, prf["algorithm"].dotted)
            found.append(prf_oid)
            prf_text = f" {OID_NAMES.get(prf_oid, prf_oid)},"
        return f"PBES2 ({OID_NAMES.get(kdf, kdf)}{prf_text} {OID_NAMES.get(scheme, scheme)})", found
    except (ValueError, TypeError, KeyError):
        return "PBES2 (параметры не разобраны)", [oid]


def _known_cipher(oid: str) -> bool:
    nid = int(lib.OBJ_txt2nid(oid.encode()))
    sn = lib.OBJ_nid2sn(nid) if nid else None
    known = bool(sn) and bool(lib.EVP_get_cipherbyname(sn))
    clear_errors()
    return known


def _decrypt(alg: _Alg, data: bytes, password: bytes, what: str) -> bytes:
    text, found = _describe_algorithm(alg)
    oid = found[0]
    pbes2_ok = oid == PBES2 and len(found) == 4 and found[1] == PBKDF2 and _known_cipher(found[2])
    if not pbes2_ok and not (oid.startswith(PKCS12_PBE_ARC) and oid != CRYPTOPRO_KEYBAG_PBE):
        raise PfxError("container_unsupported", f"{what}: алгоритм шифрования {text} не поддерживается ({', '.join(found)})")
    clear_errors()
    try:
        return pbe_crypt(alg.dump(), password, data, encrypt=False)
    except OpenSSLError as exc:
        clear_errors()
        text_err = str(exc).lower()
        if any(s in text_err for s in ("unsupported", "unknown", "no object identifier", "parameter error", "not supported")):
            raise PfxError(
                "container_unsupported",
                f"{what}: алгоритм {text} не поддерживается ({', '.join(found)})",
            ) from None
        raise PfxError("pfx_password_invalid", f"{what}: не расшифровывается — неверный пароль или файл повреждён") from None


def _inner(value: Any) -> bytes:
    """The DER inside an ``[0] EXPLICIT`` field (asn1crypto keeps the tag on ``Any``)."""
    return cast(bytes, parser.parse(value.dump())[4])


def _octets(value: Any) -> bytes:
    return cast(bytes, core.OctetString.load(_inner(value)).native)


def _verify_mac(mac: _MacData, content: bytes, password: bytes, no_password: bool) -> str:
    alg = cast(str, mac["mac"]["algorithm"]["algorithm"].dotted)
    name = _MAC_DIGESTS.get(alg)
    if name is None:
        raise PfxError("container_unsupported", f"алгоритм имитовставки контейнера {_name(alg)} не поддерживается")
    expected = cast(bytes, mac["mac"]["digest"].native)
    salt = cast(bytes, mac["salt"].native)
    iterations = int(mac["iterations"].native)
    schemes = ("tc26", "pkcs12") if alg in _GOST_MAC_DIGESTS else ("pkcs12",)
    passwords: list[bytes | None] = [password] + ([None] if no_password else [])
    for scheme in schemes:
        for pw in passwords:
            if hmac.compare_digest(pfx_mac(name, scheme, pw, salt, iterations, content), expected):
                kind = "Р 50.1.112-2016" if scheme == "tc26" else "RFC 7292"
                return f"имитовставка HMAC {OID_NAMES.get(alg, alg)} (ключ по {kind})"
    raise PfxError("pfx_password_invalid", "неверный пароль контейнера (имитовставка не совпала) или файл повреждён")


def _utf16(password: str | bytes | None) -> bytes:
    if password is None:
        return b""
    text = password if isinstance(password, str) else password.decode("utf-8")
    return text.encode("utf-16-le")


def _cryptopro_keybag(alg: _Alg, data: bytes, password: str | bytes | None) -> bytes:
    """CryptoPro's own key bag → plain PKCS#8 DER (see the module docstring)."""
    try:
        params = _CpPbeParams.load(alg["parameters"].dump())
        salt = cast(bytes, params["salt"].native)
        iterations = int(params["iterations"].native)
    except (ValueError, TypeError, KeyError):
        raise PfxError("container_unsupported", f"ключ КриптоПро: параметры {CRYPTOPRO_KEYBAG_PBE} не разобраны") from None
    if len(salt) < 8 or not 0 < iterations <= 1_000_000:
        raise PfxError("container_unsupported", "ключ КриптоПро: недопустимые соль или число итераций")
    key = cryptopro_password_key(_utf16(password), salt, iterations)
    plain = gost89_cfb(key, salt[:8], data, encrypt=False)
    try:
        blob = _CpBlob.load(plain)
        value = cast(bytes, blob["value"].native)
        export = _CpExportBlob.load(value[16:])
        ukm = cast(bytes, export["value"]["ukm"].native)
        enc = cast(bytes, export["value"]["cek"]["enc"].native)
        mac = cast(bytes, export["value"]["cek"]["mac"].native)
        key_alg = export["value"]["key_info"]["algorithm"]
        algorithm = cast(str, key_alg["algorithm"].dotted)
        curve = cast(str, key_alg["parameters"]["curve"].dotted)
        digest_oid = cast(str, key_alg["parameters"]["digest"].dotted)
    except (ValueError, TypeError, KeyError, IndexError):
        raise PfxError("pfx_password_invalid", "ключ КриптоПро не расшифровывается: неверный пароль или файл повреждён") from None
    kind = int.from_bytes(value[4:8], "little")
    size = _CALG_KEY_SIZE.get(kind)
    if size is None or oids.KEY_SIZE.get(algorithm) != size or algorithm == oids.GOST2001:
        raise PfxError(
            "container_unsupported",
            f"ключ КриптоПро: алгоритм {algorithm} (ALG_ID {kind:#06x}) не поддерживается — нужен ГОСТ Р 34.10-2012",
        )
    if len(ukm) != 8 or len(enc) != size or len(mac) != 4:
        raise PfxError("container_unsupported", "ключ КриптоПро: блоб экспорта ключа неизвестного вида")
    kek = kdf_gostr3411_2012_256(key, _KEK_LABEL, ukm)
    d_le = gost89_ecb(kek, enc, encrypt=False)
    if not hmac.compare_digest(gost89_imit(kek, ukm, d_le), mac):
        raise PfxError("pfx_key_integrity", "ключ КриптоПро: имитовставка ключа не совпала (файл повреждён)")
    return _pkcs8(algorithm, curve, digest_oid, int.from_bytes(d_le, "little"))


def _pkcs8(algorithm: str, curve: str, digest_oid: str | None, d: int) -> bytes:
    size = oids.KEY_SIZE[algorithm]
    params: dict[str, Any] = {"public_key_param_set": curve}
    if digest_oid:
        params["digest_param_set"] = digest_oid
    alg = AlgorithmIdentifier({"algorithm": algorithm, "parameters": core.Any.load(KeyParams(params).dump())})
    info = PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": alg, "private_key": core.OctetString(d.to_bytes(size, "little")).dump()}
    )
    return cast(bytes, info.dump())


def _curve_order(paramset: str) -> int:
    name = oids.CURVE_BY_PARAMSET.get(paramset)
    curves = cast(dict[str, dict[str, int]], gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019)
    if name is None or name not in curves:
        raise PfxError("container_unsupported", f"маскированный ключ с набором параметров {paramset} не поддерживается")
    return curves[name]["q"]


def normalize_private_key(pkcs8: bytes) -> tuple[bytes, bool]:
    """A GOST PKCS#8 as plain ``OCTET STRING { OCTET STRING d (LE) }``; ``True`` when it was masked.

    Accepted forms of the key: raw little-endian octets, a nested OCTET STRING or
    INTEGER, and the masked ``K || M₁ || …`` (d = K · M₁ · … mod q).
    """
    try:
        info = PrivateKeyInfo.load(pkcs8)
        algorithm = cast(str, info["private_key_algorithm"]["algorithm"].dotted)
        raw = cast(bytes, info["private_key"].native)
    except (ValueError, TypeError, KeyError):
        raise PfxError("container_unsupported", "закрытый ключ в контейнере не в формате PKCS#8") from None
    size = oids.KEY_SIZE.get(algorithm)
    if size is None or algorithm == oids.GOST2001:
        raise PfxError("container_unsupported", f"алгоритм ключа {algorithm} не поддерживается — нужен ГОСТ Р 34.10-2012")
    params = KeyParams.load(info["private_key_algorithm"]["parameters"].dump())
    paramset = cast(str, params["public_key_param_set"].dotted)
    dig = params["digest_param_set"]
    digest_oid = None if isinstance(dig, core.Void) else cast(str, dig.dotted)
    masked = False
    if raw and len(raw) % size and raw[0] in (0x04, 0x02):
        inner = core.Asn1Value.load(raw)
        if inner.tag == 4:
            raw = cast(bytes, inner.contents)
        else:
            raw = int(core.Integer.load(raw).native).to_bytes(size, "little")
    if not raw or len(raw) % size:
        raise PfxError("container_unsupported", f"закрытый ключ ГОСТ неизвестного вида ({len(raw)} байт)")
    parts = [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]
    d = parts[0]
    if len(parts) > 1:
        q = _curve_order(paramset)
        masked = True
        for m in parts[1:]:
            d = d * m % q
    return _pkcs8(algorithm, paramset, digest_oid, d), masked


def _bags(contents: bytes) -> Iterable[_SafeBag]:
    for bag in _SafeContents.load(contents):
        if bag["bag_id"].dotted == SAFE_CONTENTS_BAG:
            yield from _bags(_inner(bag["bag_value"]))  # a nested SafeContents
        else:
            yield bag


def read_pfx(data: bytes, password: str | bytes | None) -> PfxContents:
    """Open a PKCS#12 / PFX container (any of the three kinds in the module docstring)."""
    if not looks_like_pkcs12(data):
        raise PfxError("not_pkcs12", "файл не является контейнером PKCS#12 (PFX)")
    _require_engine()
    pw = (password.encode("utf-8") if isinstance(password, str) else password) if password is not None else b""
    pfx = _Pfx.load(data)
    auth = pfx["auth_safe"]
    if auth["content_type"].dotted != DATA:
        raise PfxError(
            "container_unsupported",
            f"контейнер, защищённый подписью или шифрованием на открытом ключе ({auth['content_type'].dotted}), "
            "не поддерживается: нужен контейнер с паролем",
        )
    try:
        content = _octets(auth["content"])
        safes = _AuthenticatedSafe.load(content)
        parts: list[str] = []
        if not isinstance(pfx["mac_data"], core.Void):
            parts.append(_verify_mac(pfx["mac_data"], content, pw, password is None or pw == b""))
        keys: list[bytes] = []
        certs: list[Certificate] = []
        masked = False
        for ci in safes:
            ct = cast(str, ci["content_type"].dotted)
            if ct == DATA:
                contents = _octets(ci["content"])
            elif ct == ENCRYPTED_DATA:
                info = _EncryptedData.load(_inner(ci["content"]))["info"]
                text, _ = _describe_algorithm(info["algorithm"])
                parts.append(f"раздел: {text}")
                contents = _decrypt(info["algorithm"], cast(bytes, info["content"].native), pw, "раздел контейнера")
            else:
                raise PfxError("container_unsupported", f"раздел контейнера типа {ct} не поддерживается "
                                                        "(зашифрованный на открытом ключе)")  # fmt: skip
            for bag in _bags(contents):
                bag_id = cast(str, bag["bag_id"].dotted)
                if bag_id == KEY_BAG:
                    keys.append(_inner(bag["bag_value"]))
                elif bag_id == SHROUDED_KEY_BAG:
                    epki = _EncryptedPrivateKeyInfo.load(_inner(bag["bag_value"]))
                    alg = epki["algorithm"]
                    enc = cast(bytes, epki["data"].native)
                    if alg["algorithm"].dotted == CRYPTOPRO_KEYBAG_PBE:
                        parts.append(f"ключ: {_name(CRYPTOPRO_KEYBAG_PBE)}")
                        keys.append(_cryptopro_keybag(alg, enc, password))
                    else:
                        parts.append(f"ключ: {_describe_algorithm(alg)[0]}")
                        keys.append(_decrypt(alg, enc, pw, "ключ"))
                elif bag_id == CERT_BAG:
                    cert_bag = _CertBag.load(_inner(bag["bag_value"]))
                    if cert_bag["cert_id"].dotted == X509_CERTIFICATE:
                        certs.append(parse_certificate(_octets(cert_bag["cert_value"])))
    except PfxError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise PfxError("not_pkcs12", f"контейнер PKCS#12 повреждён: {type(exc).__name__}") from None
    if len(keys) != 1:
        raise PfxError("pfx_key_count", f"в контейнере должен быть ровно один закрытый ключ, найдено {len(keys)}")
    pkcs8, masked = normalize_private_key(keys[0])
    if masked:
        parts.append("ключ маскирован (снята маска)")
    return PfxContents(pkcs8, tuple(certs), "; ".join(["PKCS#12", *parts]), masked)
