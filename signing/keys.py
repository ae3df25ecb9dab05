"""Keys and the one signer interface the rest of the gateway uses.

:class:`Signer` is deliberately narrow (one method, ``sign(data) -> raw signature``,
plus the certificate it signs for), in the style of httpx's transport: XMLDSig, CMS and
the test CA are all built on it, and a remote/HSM signer only has to implement it.

Key files: PKCS#8 PEM or DER, plain or encrypted, and PKCS#12.  Containers are opened
and built with libcrypto's algorithm-agnostic PKCS#8/PKCS#12 code (the key travels as
PKCS#8 bytes, never as an engine or provider key), so they work with every backend; the
GOST library context of :mod:`signing.gost_provider` is used when it is there, so
containers protected with GOST ciphers and MACs open without the engine.  The GOST
private key itself is handed to the backend once and kept there; it is never re-parsed
per signature and never logged (``repr`` shows only the certificate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from asn1crypto import pem

from signing import oids
from signing.backend import Backend, PrivateKeyOps, get_backend
from signing.certificates import Certificate, load_certificates, parse_certificate
from signing.gost_asn1 import parse_pkcs8, parse_spki
from signing.gost_provider import load_context, thread_default
from signing.libcrypto import OpenSSLError, check, check_ptr, clear_errors, d2i, free_function, i2d, lib

__all__ = [
    "Signer",
    "GostSigner",
    "KeyMaterial",
    "load_signer",
    "read_key_material",
    "pkcs8_to_pem",
    "make_pkcs12",
    "KeyFileError",
]


class KeyFileError(ValueError):
    """A key file cannot be read (wrong password, unknown format, key/certificate mismatch)."""


@runtime_checkable
class Signer(Protocol):
    """Makes raw GOST signatures (``s || r``) for one certificate."""

    @property
    def certificate(self) -> Certificate: ...

    def sign(self, data: bytes) -> bytes:
        """GOST R 34.10-2012 signature over Streebog(``data``), as ``s || r`` (64 or 128 bytes)."""
        ...


@dataclass(frozen=True)
class KeyMaterial:
    """What a key file held: the PKCS#8 DER of the key and any certificates beside it."""

    pkcs8: bytes
    certificates: tuple[Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"KeyMaterial(<ключ скрыт>, certificates={len(self.certificates)})"


def _pw(password: str | bytes | None) -> bytes | None:
    if password is None:
        return None
    return password.encode("utf-8") if isinstance(password, str) else password


def _decrypt_pkcs8(der: bytes, password: bytes | None) -> bytes:
    if password is None:
        raise KeyFileError("ключ зашифрован: нужен пароль")
    sig = d2i("d2i_X509_SIG", der)
    try:
        ctx = load_context()
        p8 = lib.PKCS8_decrypt_ex(sig, password, len(password), ctx.libctx if ctx else None, None)
        if not p8:
            clear_errors()
            raise KeyFileError("неверный пароль ключа или повреждённый файл")
        try:
            return i2d("i2d_PKCS8_PRIV_KEY_INFO", p8)
        finally:
            lib.PKCS8_PRIV_KEY_INFO_free(p8)
    finally:
        lib.X509_SIG_free(sig)


def _stack_items(stack: int) -> list[int]:
    return [int(lib.OPENSSL_sk_value(stack, i)) for i in range(int(lib.OPENSSL_sk_num(stack)))]


_NID_KEYBAG = 150
_NID_SHROUDED = 151
_NID_CERTBAG = 152


def _open_pkcs12(der: bytes, password: bytes | None) -> KeyMaterial:
    # MAC and encrypted bags are resolved in the thread's default context: make it the GOST one
    with thread_default() as ctx:
        return _open_pkcs12_in(der, password, ctx.libctx if ctx else None)


def _open_pkcs12_in(der: bytes, password: bytes | None, libctx: int | None) -> KeyMaterial:
    pw = password or b""
    p12 = d2i("d2i_PKCS12", der)
    try:
        if lib.PKCS12_verify_mac(p12, pw, len(pw)) != 1:
            clear_errors()
            raise KeyFileError("неверный пароль PKCS#12 или повреждённый файл")
        safes = check_ptr(lib.PKCS12_unpack_authsafes(p12), "PKCS12_unpack_authsafes")
        keys: list[bytes] = []
        certs: list[Certificate] = []
        try:
            for p7 in _stack_items(safes):
                bags = lib.PKCS12_unpack_p7data(p7)
                if not bags:
                    clear_errors()
                    bags = lib.PKCS12_unpack_p7encdata(p7, pw, len(pw))
                if not bags:
                    raise KeyFileError(f"не удалось расшифровать PKCS#12: {_err()}")
                try:
                    for bag in _stack_items(bags):
                        nid = lib.PKCS12_SAFEBAG_get_nid(bag)
                        if nid == _NID_SHROUDED:
                            p8 = check_ptr(lib.PKCS12_decrypt_skey_ex(bag, pw, len(pw), libctx, None),
                                           "PKCS12_decrypt_skey_ex")  # fmt: skip
                            try:
                                keys.append(i2d("i2d_PKCS8_PRIV_KEY_INFO", p8))
                            finally:
                                lib.PKCS8_PRIV_KEY_INFO_free(p8)
                        elif nid == _NID_KEYBAG:
                            keys.append(i2d("i2d_PKCS8_PRIV_KEY_INFO", lib.PKCS12_SAFEBAG_get0_p8inf(bag)))
                        elif nid == _NID_CERTBAG:
                            x = check_ptr(lib.PKCS12_SAFEBAG_get1_cert(bag), "PKCS12_SAFEBAG_get1_cert")
                            try:
                                certs.append(parse_certificate(i2d("i2d_X509", x)))
                            finally:
                                lib.X509_free(x)
                finally:
                    lib.OPENSSL_sk_pop_free(bags, free_function("PKCS12_SAFEBAG_free"))
        finally:
            lib.OPENSSL_sk_pop_free(safes, free_function("PKCS7_free"))
        if len(keys) != 1:
            raise KeyFileError(f"в PKCS#12 должен быть ровно один ключ, найдено {len(keys)}")
        return KeyMaterial(keys[0], tuple(certs))
    except OpenSSLError as exc:
        raise KeyFileError(f"PKCS#12 не прочитан: {exc}") from exc
    finally:
        lib.PKCS12_free(p12)


def _err() -> str:
    from signing.libcrypto import last_error

    return last_error()


def read_key_material(data: bytes, password: str | bytes | None = None) -> KeyMaterial:
    """Open PKCS#8 (PEM/DER, plain/encrypted) or PKCS#12 bytes."""
    pw = _pw(password)
    if b"-----BEGIN" in data:
        kind, _, der = pem.unarmor(data[data.index(b"-----BEGIN") :])
        if kind == "ENCRYPTED PRIVATE KEY":
            return KeyMaterial(_decrypt_pkcs8(der, pw))
        if kind == "PRIVATE KEY":
            return KeyMaterial(der)
        raise KeyFileError(f"неизвестный PEM-блок ключа: {kind}")
    # DER: plain PKCS#8 has an INTEGER version first; PKCS#12 too, so try in order
    try:
        parse_pkcs8(data)
        return KeyMaterial(data)
    except Exception:
        pass
    try:
        return KeyMaterial(_decrypt_pkcs8(data, pw))
    except KeyFileError:
        raise
    except Exception:
        clear_errors()
    try:
        material = _open_pkcs12(data, pw)
        parse_pkcs8(material.pkcs8)  # a masked key (Р 50.1.112-2016) is no plain PKCS#8 yet
        return material
    except (OpenSSLError, ValueError) as exc:
        # CryptoPro CSP's MAC (GOST R 34.11-94 keyed by RFC 7292), its own key bag, masked keys,
        # PBES2 with GOST ciphers in a context that cannot parse them: signing.cryptopro_pfx reads those
        from signing.cryptopro_pfx import PfxError, looks_like_pkcs12, read_pfx

        clear_errors()
        if not looks_like_pkcs12(data):
            raise KeyFileError(f"PKCS#12 не прочитан: {exc}") from exc
        try:
            contents = read_pfx(data, password)
        except PfxError as pfx_exc:
            raise KeyFileError(str(pfx_exc)) from pfx_exc
        return KeyMaterial(contents.pkcs8, contents.certificates)


class GostSigner:
    """The standard :class:`Signer`: a backend private key plus its certificate."""

    def __init__(
        self,
        key: PrivateKeyOps,
        certificate: Certificate,
        chain: Sequence[Certificate] = (),
        backend: Backend | None = None,
        *,
        check_match: bool = True,
    ) -> None:
        self._key = key
        self._certificate = certificate
        self.chain = tuple(chain)
        self.backend = backend or get_backend()
        self.digest_algorithm = "streebog256" if certificate.key_size == 32 else "streebog512"
        if check_match:
            mine = parse_spki(key.public_key_info()).point_le
            if mine != parse_spki(certificate.public_key_info).point_le:
                raise KeyFileError("закрытый ключ не соответствует сертификату")

    @property
    def certificate(self) -> Certificate:
        return self._certificate

    @property
    def key(self) -> PrivateKeyOps:
        return self._key

    @property
    def xml_signature_method(self) -> str:
        return oids.XML_SIG_2012_256 if self.digest_algorithm == "streebog256" else oids.XML_SIG_2012_512

    @property
    def xml_digest_method(self) -> str:
        return oids.XML_DIGEST_256 if self.digest_algorithm == "streebog256" else oids.XML_DIGEST_512

    def sign(self, data: bytes) -> bytes:
        return self._key.sign_digest(self.backend.digest(self.digest_algorithm, data))

    def sign_digest(self, digest: bytes) -> bytes:
        return self._key.sign_digest(digest)

    def __repr__(self) -> str:
        return f"GostSigner({self._certificate.subject_text!r})"


def _read(source: str | Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


def load_signer(
    key: str | Path | bytes,
    certificate: str | Path | bytes | None = None,
    password: str | bytes | None = None,
    *,
    backend: Backend | None = None,
) -> GostSigner:
    """Load a key (PKCS#8 PEM/DER, encrypted or not, or PKCS#12) and its certificate once.

    ``certificate`` may be omitted for a PKCS#12 that carries it; extra certificates
    (from the PKCS#12 or a PEM bundle) become the signer's chain.
    """
    b = backend or get_backend()
    material = read_key_material(_read(key), password)
    certs = list(material.certificates)
    if certificate is not None:
        certs = load_certificates(_read(certificate)) + certs
    if not certs:
        raise KeyFileError("не указан сертификат ключа")
    size = oids.KEY_SIZE.get(parse_pkcs8(material.pkcs8).algorithm, 32)
    private = b.load_private_key(material.pkcs8, size)
    mine = parse_spki(private.public_key_info()).point_le
    leaf = next((c for c in certs if parse_spki(c.public_key_info).point_le == mine), None)
    if leaf is None:
        raise KeyFileError("закрытый ключ не соответствует сертификату")
    chain = [c for c in certs if c is not leaf]
    return GostSigner(private, leaf, chain, b, check_match=False)


def pkcs8_to_pem(pkcs8_der: bytes, password: str | bytes | None = None, iterations: int = 100_000) -> bytes:
    """PEM of a PKCS#8 key; with a password, PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC)."""
    pw = _pw(password)
    if pw is None:
        return bytes(pem.armor("PRIVATE KEY", pkcs8_der))
    p8 = d2i("d2i_PKCS8_PRIV_KEY_INFO", pkcs8_der)
    try:
        sig = check_ptr(
            lib.PKCS8_encrypt(-1, lib.EVP_aes_256_cbc(), pw, len(pw), None, 0, iterations, p8), "PKCS8_encrypt"
        )
        try:
            return bytes(pem.armor("ENCRYPTED PRIVATE KEY", i2d("i2d_X509_SIG", sig)))
        finally:
            lib.X509_SIG_free(sig)
    finally:
        lib.PKCS8_PRIV_KEY_INFO_free(p8)


_NID_AES_256_CBC = 427
PKCS12_ITERATIONS = 2048  # OpenSSL's default for PKCS12_create


def make_pkcs12(
    pkcs8_der: bytes,
    certificate: Certificate,
    password: str | bytes,
    chain: Sequence[Certificate] = (),
    name: str = "gateway",
) -> bytes:
    """A PKCS#12 (``.p12``/``.pfx``) with OpenSSL 3 defaults (PBES2 AES-256-CBC, SHA-256 MAC).

    Built from the PKCS#8 bytes and the certificates' DER, bag by bag, so no backend has to
    understand the GOST key (any backend, the pure-Python one included).  The key bag and
    the leaf certificate carry the same ``localKeyId`` (SHA-1 of the certificate, as OpenSSL).
    """
    pw = _pw(password) or b""
    key_id = hashlib.sha1(certificate.der, usedforsecurity=False).digest()
    label = name.encode("utf-8")
    p8 = d2i("d2i_PKCS8_PRIV_KEY_INFO", pkcs8_der)
    cert_bags = check_ptr(lib.OPENSSL_sk_new_null(), "OPENSSL_sk_new_null")
    key_bags = check_ptr(lib.OPENSSL_sk_new_null(), "OPENSSL_sk_new_null")
    safes = check_ptr(lib.OPENSSL_sk_new_null(), "OPENSSL_sk_new_null")
    try:
        for i, cert in enumerate((certificate, *chain)):
            x = d2i("d2i_X509", cert.der)
            try:
                bag = check_ptr(lib.PKCS12_SAFEBAG_create_cert(x), "PKCS12_SAFEBAG_create_cert")
            finally:
                lib.X509_free(x)
            lib.OPENSSL_sk_push(cert_bags, bag)
            if i == 0:
                check(lib.PKCS12_add_localkeyid(bag, key_id, len(key_id)), "PKCS12_add_localkeyid")
                check(lib.PKCS12_add_friendlyname_utf8(bag, label, len(label)), "PKCS12_add_friendlyname")
        key_bag = check_ptr(
            lib.PKCS12_SAFEBAG_create_pkcs8_encrypt_ex(_NID_AES_256_CBC, pw, len(pw), None, 0, PKCS12_ITERATIONS, p8,
                                                       None, None),
            "PKCS12_SAFEBAG_create_pkcs8_encrypt_ex",
        )  # fmt: skip
        lib.OPENSSL_sk_push(key_bags, key_bag)
        check(lib.PKCS12_add_localkeyid(key_bag, key_id, len(key_id)), "PKCS12_add_localkeyid")
        check(lib.PKCS12_add_friendlyname_utf8(key_bag, label, len(label)), "PKCS12_add_friendlyname")
        lib.OPENSSL_sk_push(safes, check_ptr(
            lib.PKCS12_pack_p7encdata_ex(_NID_AES_256_CBC, pw, len(pw), None, 0, PKCS12_ITERATIONS, cert_bags, None,
                                         None),
            "PKCS12_pack_p7encdata_ex",
        ))  # fmt: skip
        lib.OPENSSL_sk_push(safes, check_ptr(lib.PKCS12_pack_p7data(key_bags), "PKCS12_pack_p7data"))
        p12 = check_ptr(lib.PKCS12_add_safes_ex(safes, 0, None, None), "PKCS12_add_safes_ex")
        try:
            check(lib.PKCS12_set_mac(p12, pw, len(pw), None, 0, PKCS12_ITERATIONS, lib.EVP_sha256()), "PKCS12_set_mac")
            return i2d("i2d_PKCS12", p12)
        finally:
            lib.PKCS12_free(p12)
    except OpenSSLError as exc:
        raise KeyFileError(f"PKCS#12 не создан: {exc}") from exc
    finally:
        lib.OPENSSL_sk_pop_free(safes, free_function("PKCS7_free"))
        lib.OPENSSL_sk_pop_free(key_bags, free_function("PKCS12_SAFEBAG_free"))
        lib.OPENSSL_sk_pop_free(cert_bags, free_function("PKCS12_SAFEBAG_free"))
        lib.PKCS8_PRIV_KEY_INFO_free(p8)
