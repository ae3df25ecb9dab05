"""Thin typed ctypes binding to the system libcrypto (OpenSSL 3.x).

Why ctypes and hand-written: Python's ``cryptography`` has no GOST and no way to load an
engine; M2Crypto and pyOpenSSL do not expose the engine-backed EVP_PKEY calls we need.
Only the handful of functions the signing package calls are declared here, with their C
prototypes, so that a wrong argument type fails loudly instead of corrupting memory.
The GOST engine is loaded in :mod:`signing.gost_engine`, the GOST provider (in a library
context of its own) in :mod:`signing.gost_provider`.  Functions of OpenSSL 3 only (library
contexts, providers, ``*_ex`` variants) are declared as well: OpenSSL 3.0 is the minimum.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from ctypes import POINTER, c_char_p, c_int, c_long, c_size_t, c_uint, c_ulong, c_void_p
from typing import Any

__all__ = ["OpenSSLError", "lib", "check", "check_ptr", "i2d", "last_error", "clear_errors"]


class OpenSSLError(RuntimeError):
    """An OpenSSL call failed; the message carries OpenSSL's own error queue."""


def _load() -> ctypes.CDLL:
    names = ["libcrypto.so.3"]
    found = ctypes.util.find_library("crypto")
    if found:
        names.append(found)
    last: OSError | None = None
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:  # pragma: no cover - depends on the machine
            last = exc
    raise OpenSSLError(f"libcrypto не найдена: {last}")


lib = _load()

_P = c_void_p
_PP = POINTER(c_void_p)

# name: (restype, argtypes)
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version": (c_char_p, [c_int]),
    "ERR_get_error": (c_ulong, []),
    "ERR_error_string_n": (None, [c_ulong, c_char_p, c_size_t]),
    "ERR_clear_error": (None, []),
    # engines
    "ENGINE_by_id": (_P, [c_char_p]),
    "ENGINE_ctrl_cmd_string": (c_int, [_P, c_char_p, c_char_p, c_int]),
    "ENGINE_init": (c_int, [_P]),
    "ENGINE_set_default": (c_int, [_P, c_uint]),
    "ENGINE_free": (c_int, [_P]),
    # library contexts and providers (OpenSSL 3)
    "OSSL_LIB_CTX_new": (_P, []),
    "OSSL_LIB_CTX_free": (None, [_P]),
    "OSSL_LIB_CTX_set0_default": (_P, [_P]),
    "OSSL_LIB_CTX_get0_global_default": (_P, []),
    "OSSL_PROVIDER_set_default_search_path": (c_int, [_P, c_char_p]),
    "OSSL_PROVIDER_load": (_P, [_P, c_char_p]),
    "OSSL_PROVIDER_unload": (c_int, [_P]),
    "OSSL_PROVIDER_available": (c_int, [_P, c_char_p]),
    "EVP_MD_fetch": (_P, [_P, c_char_p, c_char_p]),
    "EVP_MD_free": (None, [_P]),
    "EVP_KEYMGMT_fetch": (_P, [_P, c_char_p, c_char_p]),
    "EVP_KEYMGMT_free": (None, [_P]),
    "EVP_SIGNATURE_fetch": (_P, [_P, c_char_p, c_char_p]),
    "EVP_SIGNATURE_free": (None, [_P]),
    "EVP_CIPHER_fetch": (_P, [_P, c_char_p, c_char_p]),
    "EVP_CIPHER_free": (None, [_P]),
    # digests
    "EVP_get_digestbyname": (_P, [c_char_p]),
    "EVP_MD_CTX_new": (_P, []),
    "EVP_MD_CTX_free": (None, [_P]),
    "EVP_DigestInit_ex": (c_int, [_P, _P, _P]),
    "EVP_DigestUpdate": (c_int, [_P, c_char_p, c_size_t]),
    "EVP_DigestFinal_ex": (c_int, [_P, c_char_p, POINTER(c_uint)]),
    "EVP_Digest": (c_int, [c_char_p, c_size_t, c_char_p, POINTER(c_uint), _P, _P]),
    # keys
    "d2i_AutoPrivateKey": (_P, [_PP, _PP, c_long]),
    "d2i_PUBKEY": (_P, [_PP, _PP, c_long]),
    "d2i_AutoPrivateKey_ex": (_P, [_PP, _PP, c_long, _P, c_char_p]),
    "d2i_PUBKEY_ex": (_P, [_PP, _PP, c_long, _P, c_char_p]),
    "EVP_PKEY_CTX_new_from_pkey": (_P, [_P, _P, c_char_p]),
    "EVP_PKEY_CTX_new_from_name": (_P, [_P, c_char_p, c_char_p]),
    "EVP_PKEY_get0_type_name": (c_char_p, [_P]),
    "EVP_DigestSignInit_ex": (c_int, [_P, _PP, c_char_p, _P, c_char_p, _P, _P]),
    "EVP_DigestSign": (c_int, [_P, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_DigestVerifyInit_ex": (c_int, [_P, _PP, c_char_p, _P, c_char_p, _P, _P]),
    "EVP_DigestVerify": (c_int, [_P, c_char_p, c_size_t, c_char_p, c_size_t]),
    "EVP_MD_CTX_set_flags": (None, [_P, c_int]),
    "i2d_PUBKEY": (c_int, [_P, _PP]),
    "EVP_PKEY_free": (None, [_P]),
    "EVP_PKEY2PKCS8": (_P, [_P]),
    "EVP_PKEY_CTX_new": (_P, [_P, _P]),
    "EVP_PKEY_CTX_new_id": (_P, [c_int, _P]),
    "EVP_PKEY_CTX_free": (None, [_P]),
    "EVP_PKEY_CTX_ctrl_str": (c_int, [_P, c_char_p, c_char_p]),
    "EVP_PKEY_keygen_init": (c_int, [_P]),
    "EVP_PKEY_keygen": (c_int, [_P, _PP]),
    "EVP_PKEY_sign_init": (c_int, [_P]),
    "EVP_PKEY_sign": (c_int, [_P, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_PKEY_verify_init": (c_int, [_P]),
    "EVP_PKEY_verify": (c_int, [_P, c_char_p, c_size_t, c_char_p, c_size_t]),
    "OBJ_txt2nid": (c_int, [c_char_p]),
    # PKCS#8 containers (algorithm-agnostic)
    "d2i_PKCS8_PRIV_KEY_INFO": (_P, [_PP, _PP, c_long]),
    "i2d_PKCS8_PRIV_KEY_INFO": (c_int, [_P, _PP]),
    "PKCS8_PRIV_KEY_INFO_free": (None, [_P]),
    "d2i_X509_SIG": (_P, [_PP, _PP, c_long]),
    "i2d_X509_SIG": (c_int, [_P, _PP]),
    "X509_SIG_free": (None, [_P]),
    "PKCS8_decrypt": (_P, [_P, c_char_p, c_int]),
    "PKCS8_decrypt_ex": (_P, [_P, c_char_p, c_int, _P, c_char_p]),
    "PKCS8_encrypt": (_P, [c_int, _P, c_char_p, c_int, c_char_p, c_int, c_int, _P]),
    "EVP_aes_256_cbc": (_P, []),
    # PKCS#12
    "d2i_PKCS12": (_P, [_PP, _PP, c_long]),
    "i2d_PKCS12": (c_int, [_P, _PP]),
    "PKCS12_free": (None, [_P]),
    "PKCS12_verify_mac": (c_int, [_P, c_char_p, c_int]),
    "PKCS12_unpack_authsafes": (_P, [_P]),
    "PKCS12_unpack_p7data": (_P, [_P]),
    "PKCS12_unpack_p7encdata": (_P, [_P, c_char_p, c_int]),
    "PKCS12_SAFEBAG_get_nid": (c_int, [_P]),
    "PKCS12_decrypt_skey": (_P, [_P, c_char_p, c_int]),
    "PKCS12_decrypt_skey_ex": (_P, [_P, c_char_p, c_int, _P, c_char_p]),
    "PKCS12_SAFEBAG_create_cert": (_P, [_P]),
    "PKCS12_SAFEBAG_create_pkcs8_encrypt_ex": (_P, [c_int, c_char_p, c_int, c_char_p, c_int, c_int, _P, _P, c_char_p]),
    "PKCS12_add_localkeyid": (c_int, [_P, c_char_p, c_int]),
    "PKCS12_add_friendlyname_utf8": (c_int, [_P, c_char_p, c_int]),
    "PKCS12_pack_p7data": (_P, [_P]),
    "PKCS12_pack_p7encdata_ex": (_P, [c_int, c_char_p, c_int, c_char_p, c_int, c_int, _P, _P, c_char_p]),
    "PKCS12_add_safes_ex": (_P, [_P, c_int, _P, c_char_p]),
    "PKCS12_set_mac": (c_int, [_P, c_char_p, c_int, c_char_p, c_int, c_int, _P]),
    "EVP_sha256": (_P, []),
    "PKCS12_SAFEBAG_get0_p8inf": (_P, [_P]),
    "PKCS12_SAFEBAG_get1_cert": (_P, [_P]),
    "PKCS12_create": (_P, [c_char_p, c_char_p, _P, _P, _P, c_int, c_int, c_int, c_int, c_int]),
    "OPENSSL_sk_num": (c_int, [_P]),
    "OPENSSL_sk_value": (_P, [_P, c_int]),
    "OPENSSL_sk_new_null": (_P, []),
    "OPENSSL_sk_push": (c_int, [_P, _P]),
    "OPENSSL_sk_free": (None, [_P]),
    "OPENSSL_sk_pop_free": (None, [_P, _P]),
    "PKCS7_free": (None, [_P]),
    "PKCS12_SAFEBAG_free": (None, [_P]),
    # X.509 (only to move certificates in and out of PKCS#12)
    "d2i_X509": (_P, [_PP, _PP, c_long]),
    "i2d_X509": (c_int, [_P, _PP]),
    "X509_free": (None, [_P]),
    # PKCS#12 pieces and symmetric GOST primitives for CryptoPro containers (signing.cryptopro_pfx)
    "d2i_X509_ALGOR": (_P, [_PP, _PP, c_long]),
    "i2d_X509_ALGOR": (c_int, [_P, _PP]),
    "X509_ALGOR_free": (None, [_P]),
    "PKCS12_pbe_crypt_ex": (_P, [_P, c_char_p, c_int, c_char_p, c_int, _PP, POINTER(c_int), c_int, _P, c_char_p]),
    "PKCS5_pbe2_set_iv_ex": (_P, [_P, c_int, c_char_p, c_int, c_char_p, c_int, _P]),
    "PKCS5_pbe_set_ex": (_P, [c_int, c_int, c_char_p, c_int, _P]),
    "PKCS5_PBKDF2_HMAC": (c_int, [c_char_p, c_int, c_char_p, c_int, c_int, _P, c_int, c_char_p]),
    "PKCS12_key_gen_utf8": (c_int, [c_char_p, c_int, c_char_p, c_int, c_int, c_int, c_int, c_char_p, _P]),
    "HMAC": (_P, [_P, c_char_p, c_int, c_char_p, c_size_t, c_char_p, POINTER(c_uint)]),
    "EVP_MD_get_size": (c_int, [_P]),
    "EVP_MD_CTX_ctrl": (c_int, [_P, c_int, c_int, _P]),
    "EVP_get_cipherbyname": (_P, [c_char_p]),
    "OBJ_nid2sn": (c_char_p, [c_int]),
    "EVP_CIPHER_CTX_new": (_P, []),
    "EVP_CIPHER_CTX_free": (None, [_P]),
    "EVP_CipherInit_ex": (c_int, [_P, _P, _P, c_char_p, c_char_p, c_int]),
    "EVP_CIPHER_CTX_set_padding": (c_int, [_P, c_int]),
    "EVP_CIPHER_CTX_ctrl": (c_int, [_P, c_int, c_int, _P]),
    "EVP_CipherUpdate": (c_int, [_P, c_char_p, POINTER(c_int), c_char_p, c_int]),
    "EVP_CipherFinal_ex": (c_int, [_P, c_char_p, POINTER(c_int)]),
    "CRYPTO_free": (None, [_P, c_char_p, c_int]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def last_error() -> str:
    """Drain OpenSSL's error queue into one readable line."""
    messages: list[str] = []
    buf = ctypes.create_string_buffer(256)
    while True:
        code = int(lib.ERR_get_error())
        if code == 0:
            break
        lib.ERR_error_string_n(code, buf, len(buf))
        messages.append(buf.value.decode("ascii", "replace"))
    return "; ".join(messages) or "нет подробностей"


def clear_errors() -> None:
    lib.ERR_clear_error()


def check(result: int, what: str) -> int:
    """Raise :class:`OpenSSLError` unless an int-returning call reported success (1)."""
    if result != 1:
        raise OpenSSLError(f"{what}: {last_error()}")
    return result


def check_ptr(ptr: int | None, what: str) -> int:
    """Raise :class:`OpenSSLError` when a pointer-returning call gave NULL."""
    if not ptr:
        raise OpenSSLError(f"{what}: {last_error()}")
    return ptr


def d2i(func_name: str, der: bytes) -> int:
    """Call a ``d2i_*`` function on DER bytes; returns the new object or raises."""
    buf = ctypes.create_string_buffer(der, len(der))
    p = c_void_p(ctypes.addressof(buf))
    obj = getattr(lib, func_name)(None, ctypes.byref(p), len(der))
    return check_ptr(obj, func_name)


def i2d(func_name: str, obj: int) -> bytes:
    """Call an ``i2d_*`` function twice (length, then bytes) and return the DER."""
    fn = getattr(lib, func_name)
    n = int(fn(obj, None))
    if n <= 0:
        raise OpenSSLError(f"{func_name}: {last_error()}")
    buf = ctypes.create_string_buffer(n)
    p = c_void_p(ctypes.addressof(buf))
    fn(obj, ctypes.byref(p))
    return buf.raw[:n]


def free_function(name: str) -> int:
    """Address of a ``*_free`` function, for ``OPENSSL_sk_pop_free``."""
    addr = ctypes.cast(getattr(lib, name), c_void_p).value
    return check_ptr(addr, name)
