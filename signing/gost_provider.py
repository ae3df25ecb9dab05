"""GOST primitives through an OpenSSL 3 provider (``gostprov``) in a library context of its own.

Why: the ENGINE API is deprecated in OpenSSL 3 and gone in 4.0; providers are its
replacement.  Nothing here is process-wide: the provider and OpenSSL's ``default``
provider are loaded into a private ``OSSL_LIB_CTX``, every fetch, key decoding and
signature context names that context, and the default context of the process stays as
it was (another library in the process sees no GOST through us).

What the provider must offer for :class:`ProviderBackend`: the Streebog digests, key
management (decoding, generation) and signatures over a ready digest (``EVP_PKEY_sign``
/ ``EVP_PKEY_verify``) for GOST R 34.10-2012.  Debian's ``libengine-gost-openssl`` 3.0.x
ships a ``gostprov.so`` with digests, ciphers and MACs only (no GOST keys at all: that,
not the CryptoPro ``XchA`` paramset, is why ``openssl -provider gostprov`` prints
"Unable to load Public Key" for SMEV certificates); then :class:`ProviderBackend`
refuses with :class:`ProviderUnavailable` saying so, and :mod:`signing.backend` takes
the engine.  The library context is still useful then: its GOST ciphers and digests
decrypt key containers protected with GOST algorithms (:func:`thread_default`).

One process uses either the provider or the engine, never both: the engine registers
itself process-wide (``ENGINE_set_default``) and OpenSSL 3.0 then hands every GOST key
context to it, provider keys included.  Once a :class:`ProviderBackend` exists,
:func:`signing.gost_engine.load_engine` declines, and the other way round (:mod:`signing.gost_evp`).

Speed is kept as with the engine: keys are decoded once into an ``EVP_PKEY``, an
``EVP_PKEY_CTX`` is kept per key and thread, digests are fetched once.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from ctypes import c_size_t, c_void_p
from pathlib import Path

from signing import gost_evp
from signing.gost_evp import Algorithms, EvpPrivateKey, EvpPublicKey, digest_chunks
from signing.gost_evp import digest as evp_digest
from signing.libcrypto import OpenSSLError, check, check_ptr, clear_errors, last_error, lib

__all__ = [
    "GostLibraryContext",
    "ProviderBackend",
    "ProviderPrivateKey",
    "ProviderPublicKey",
    "ProviderUnavailable",
    "load_context",
    "context_error",
    "provider_path",
    "thread_default",
]

PROVIDER_NAME = "gostprov"
_OPENSSL_MODULES_DIR = 7  # OpenSSL_version(OPENSSL_MODULES_DIR)
DIGEST_NAMES = {"streebog256": "md_gost12_256", "streebog512": "md_gost12_512", "gost94": "md_gost94"}
KEY_TYPES = {32: "gost2012_256", 64: "gost2012_512"}

_lock = threading.Lock()
_context: GostLibraryContext | None = None
_context_error: str | None = None


class ProviderUnavailable(OpenSSLError):
    """The GOST provider cannot serve as the backend; ``code`` is stable, the text Russian."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def provider_path() -> Path | None:
    """Where ``gostprov.so`` lives: ``GATEWAY_GOST_PROVIDER`` (file or directory), else OpenSSL's modules dir."""
    explicit = os.environ.get("GATEWAY_GOST_PROVIDER")
    if explicit:
        p = Path(explicit)
        if p.is_dir():
            p = p / f"{PROVIDER_NAME}.so"
        return p if p.is_file() else None
    candidates: list[str] = []
    raw = lib.OpenSSL_version(_OPENSSL_MODULES_DIR)
    if raw:
        m = re.search(r'"([^"]+)"', raw.decode("utf-8", "replace"))
        if m:
            candidates.append(os.path.join(m.group(1), f"{PROVIDER_NAME}.so"))
    candidates += sorted(glob.glob(f"/usr/lib/*/ossl-modules/{PROVIDER_NAME}.so"))
    candidates += sorted(glob.glob(f"/usr/lib*/ossl-modules/{PROVIDER_NAME}.so"))
    for c in candidates:
        if os.path.isfile(c):
            return Path(c)
    return None


class GostLibraryContext:
    """A private ``OSSL_LIB_CTX`` with ``gostprov`` and ``default`` loaded; lives as long as the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.libctx = check_ptr(lib.OSSL_LIB_CTX_new(), "OSSL_LIB_CTX_new")
        try:
            if path.name == f"{PROVIDER_NAME}.so":
                check(lib.OSSL_PROVIDER_set_default_search_path(self.libctx, str(path.parent).encode()),
                      "OSSL_PROVIDER_set_default_search_path")  # fmt: skip
                name = PROVIDER_NAME.encode()
            else:
                name = str(path).encode()  # an absolute path is loaded as it is
            self._gost = check_ptr(lib.OSSL_PROVIDER_load(self.libctx, name), f"OSSL_PROVIDER_load({path})")
            self._default = check_ptr(lib.OSSL_PROVIDER_load(self.libctx, b"default"), "OSSL_PROVIDER_load(default)")
        except OpenSSLError:
            lib.OSSL_LIB_CTX_free(self.libctx)
            raise

    def fetch_digest(self, name: str) -> int | None:
        md = lib.EVP_MD_fetch(self.libctx, name.encode(), None)
        if not md:
            clear_errors()
            return None
        return int(md)

    def has(self, kind: str, name: str) -> bool:
        fetch, free = {
            "keymgmt": (lib.EVP_KEYMGMT_fetch, lib.EVP_KEYMGMT_free),
            "signature": (lib.EVP_SIGNATURE_fetch, lib.EVP_SIGNATURE_free),
            "digest": (lib.EVP_MD_fetch, lib.EVP_MD_free),
            "cipher": (lib.EVP_CIPHER_fetch, lib.EVP_CIPHER_free),
        }[kind]
        obj = fetch(self.libctx, name.encode(), None)
        if not obj:
            clear_errors()
            return False
        free(obj)
        return True

    def algorithms(self) -> Algorithms:
        return Algorithms(
            digests=tuple(n for n in DIGEST_NAMES.values() if self.has("digest", n)),
            key_types=tuple(n for n in KEY_TYPES.values() if self.has("keymgmt", n)),
            signatures=tuple(n for n in KEY_TYPES.values() if self.has("signature", n)),
        )


def load_context() -> GostLibraryContext | None:
    """The process's GOST library context (created once); ``None`` when ``gostprov`` does not load."""
    global _context, _context_error
    with _lock:
        if _context is not None or _context_error is not None:
            return _context
        path = provider_path()
        if path is None:
            _context_error = "gostprov.so не найден (GATEWAY_GOST_PROVIDER)"
            return None
        try:
            _context = GostLibraryContext(path)
        except OpenSSLError as exc:
            _context_error = str(exc)
            clear_errors()
        return _context


def context_error() -> str | None:
    """Why the provider did not load (after :func:`load_context` returned ``None``)."""
    return _context_error


@contextmanager
def thread_default() -> Iterator[GostLibraryContext | None]:
    """Make the GOST library context this thread's default for the block (for calls that take no context).

    Thread-local and undone on exit; without the provider nothing changes.
    """
    ctx = load_context()
    if ctx is None:
        yield None
        return
    previous = lib.OSSL_LIB_CTX_set0_default(ctx.libctx)
    try:
        yield ctx
    finally:
        lib.OSSL_LIB_CTX_set0_default(previous)


_EVP_MD_CTX_FLAG_FINALISE = 0x0200


class ProviderPublicKey(EvpPublicKey):
    """A public key decoded in the GOST library context; verify is one ctypes call."""

    def __init__(self, pkey: int, ctx: GostLibraryContext) -> None:
        super().__init__(pkey)
        self._gctx = ctx

    def _new_ctx(self) -> int:
        return check_ptr(lib.EVP_PKEY_CTX_new_from_pkey(self._gctx.libctx, self._pkey, None),
                         "EVP_PKEY_CTX_new_from_pkey")  # fmt: skip

    def verify_data(self, algorithm: str, data: bytes, signature: bytes) -> bool:
        """Verify over ``data`` (``EVP_DigestVerify``: the provider hashes)."""
        md_ctx = check_ptr(lib.EVP_MD_CTX_new(), "EVP_MD_CTX_new")
        try:
            lib.EVP_MD_CTX_set_flags(md_ctx, _EVP_MD_CTX_FLAG_FINALISE)  # see sign_data
            check(lib.EVP_DigestVerifyInit_ex(md_ctx, None, DIGEST_NAMES[algorithm].encode(), self._gctx.libctx,
                                              None, self._pkey, None), "EVP_DigestVerifyInit_ex")  # fmt: skip
            ok = lib.EVP_DigestVerify(md_ctx, signature, len(signature), data, len(data)) == 1
            if not ok:
                clear_errors()
            return bool(ok)
        finally:
            lib.EVP_MD_CTX_free(md_ctx)


class ProviderPrivateKey(EvpPrivateKey):
    """A private key held as a provider ``EVP_PKEY``; never re-decoded per signature."""

    def __init__(self, pkey: int, size: int, ctx: GostLibraryContext) -> None:
        super().__init__(pkey, size)
        self._gctx = ctx

    def _new_ctx(self) -> int:
        return check_ptr(lib.EVP_PKEY_CTX_new_from_pkey(self._gctx.libctx, self._pkey, None),
                         "EVP_PKEY_CTX_new_from_pkey")  # fmt: skip

    def sign_data(self, algorithm: str, data: bytes) -> bytes:
        """One-shot signature over ``data`` (``EVP_DigestSign``: the provider hashes)."""
        md_ctx = check_ptr(lib.EVP_MD_CTX_new(), "EVP_MD_CTX_new")
        try:
            # no context duplication at final (some providers cannot duplicate a signature context)
            lib.EVP_MD_CTX_set_flags(md_ctx, _EVP_MD_CTX_FLAG_FINALISE)
            check(lib.EVP_DigestSignInit_ex(md_ctx, None, DIGEST_NAMES[algorithm].encode(), self._gctx.libctx,
                                            None, self._pkey, None), "EVP_DigestSignInit_ex")  # fmt: skip
            buf = ctypes.create_string_buffer(2 * self.size)
            n = c_size_t(len(buf))
            check(lib.EVP_DigestSign(md_ctx, buf, ctypes.byref(n), data, len(data)), "EVP_DigestSign")
            return bytes(buf.raw[: n.value])
        finally:
            lib.EVP_MD_CTX_free(md_ctx)


class ProviderBackend:
    """GOST R 34.11-2012 / 34.10-2012 through libcrypto and the GOST provider, in a private library context."""

    name = "openssl-provider"

    def __init__(self) -> None:
        if gost_evp.owner() == "engine":
            # OpenSSL 3.0 routes every GOST key context to an engine registered by ENGINE_set_default,
            # whatever library context the key lives in: provider keys would crash in the engine's code
            raise ProviderUnavailable("engine_loaded", "в процессе уже загружен движок GOST: провайдер с ним не смешивается")
        ctx = load_context()
        if ctx is None:
            raise ProviderUnavailable("provider_missing", f"провайдер GOST не загружен: {context_error()}")
        self.context = ctx
        self._mds: dict[str, int] = {}
        for alg, ossl_name in DIGEST_NAMES.items():
            md = ctx.fetch_digest(ossl_name)
            if md is None:
                raise ProviderUnavailable("provider_without_digests", f"провайдер {ctx.path} не даёт хэш {ossl_name}")
            self._mds[alg] = md
        missing = [f"{kind} {n}" for n in KEY_TYPES.values() for kind in ("keymgmt", "signature") if not ctx.has(kind, n)]
        if missing:
            raise ProviderUnavailable(
                "provider_without_signatures",
                f"провайдер {ctx.path} без ключей и подписей ГОСТ Р 34.10-2012 (нет: {', '.join(missing)}); "
                "провайдер libengine-gost-openssl 3.0.x даёт только хэши, шифры и MAC",
            )
        self._check_raw_signatures()
        if not gost_evp.claim("provider"):
            raise ProviderUnavailable("engine_loaded", "в процессе уже загружен движок GOST: провайдер с ним не смешивается")

    def _check_raw_signatures(self) -> None:
        """The backend signs and verifies ready digests (XMLDSig, CMS): refuse a provider that cannot."""
        try:
            key = self.generate(32, "A")
            digest = self.digest("streebog256", b"probe")
            ok = self.load_public_key(key.public_key_info()).verify_digest(digest, key.sign_digest(digest))
        except OpenSSLError as exc:
            clear_errors()
            raise ProviderUnavailable(
                "provider_without_raw_sign",
                f"провайдер {self.context.path} не подписывает готовый хэш (EVP_PKEY_sign/EVP_PKEY_verify): {exc}",
            ) from exc
        if not ok:
            raise ProviderUnavailable("provider_without_raw_sign",
                                      f"провайдер {self.context.path}: подпись готового хэша не проверяется")  # fmt: skip

    def algorithms(self) -> Algorithms:
        return self.context.algorithms()

    def digest(self, algorithm: str, data: bytes) -> bytes:
        return evp_digest(self._mds[algorithm], data)

    def digest_chunks(self, algorithm: str, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        """Digest of several buffers without joining them (one reused ``EVP_MD_CTX`` per thread)."""
        return digest_chunks(self._mds[algorithm], chunks)

    def _d2i(self, func: str, der: bytes) -> int:
        buf = ctypes.create_string_buffer(der, len(der))
        p = c_void_p(ctypes.addressof(buf))
        obj = getattr(lib, func)(None, ctypes.byref(p), len(der), self.context.libctx, None)
        return check_ptr(obj, func)

    def load_private_key(self, pkcs8_der: bytes, size: int) -> ProviderPrivateKey:
        return ProviderPrivateKey(self._d2i("d2i_AutoPrivateKey_ex", pkcs8_der), size, self.context)

    def load_public_key(self, spki_der: bytes) -> ProviderPublicKey:
        return ProviderPublicKey(self._d2i("d2i_PUBKEY_ex", spki_der), self.context)

    def generate(self, size: int, paramset: str) -> ProviderPrivateKey:
        """New key pair; ``paramset`` is the provider's name (``A``, ``B``, ``C``, ``TCA``…)."""
        ctx = check_ptr(lib.EVP_PKEY_CTX_new_from_name(self.context.libctx, KEY_TYPES[size].encode(), None),
                        "EVP_PKEY_CTX_new_from_name")  # fmt: skip
        try:
            check(lib.EVP_PKEY_keygen_init(ctx), "EVP_PKEY_keygen_init")
            if lib.EVP_PKEY_CTX_ctrl_str(ctx, b"paramset", paramset.encode()) <= 0:
                raise OpenSSLError(f"paramset {paramset}: {last_error()}")
            pkey = c_void_p(None)
            check(lib.EVP_PKEY_keygen(ctx, ctypes.byref(pkey)), "EVP_PKEY_keygen")
            return ProviderPrivateKey(check_ptr(pkey.value, "EVP_PKEY_keygen"), size, self.context)
        finally:
            lib.EVP_PKEY_CTX_free(ctx)

