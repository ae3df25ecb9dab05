"""What the two OpenSSL GOST backends share: keys held as ``EVP_PKEY`` and who owns GOST in the process.

Keys are parsed once; an ``EVP_PKEY_CTX`` is kept per key and thread (``_new_ctx`` says
how the engine or the provider makes one), so a signature is one ctypes call.

One process uses either the GOST engine or the GOST provider: the engine registers itself
process-wide (``ENGINE_set_default``) and OpenSSL 3.0 then hands every GOST key context to
it, provider keys included (they crash in the engine's code).  :func:`claim` records which
one took GOST first; the other declines to load.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import c_size_t, c_uint
from dataclasses import dataclass
from typing import Any

from signing.libcrypto import check, check_ptr, clear_errors, i2d, lib

__all__ = ["Algorithms", "EvpPrivateKey", "EvpPublicKey", "claim", "digest", "digest_chunks", "owner"]

_lock = threading.Lock()
_owner: str | None = None


def claim(name: str) -> bool:
    """Take GOST for ``name`` (``"engine"`` or ``"provider"``); false when the other one has it."""
    global _owner
    with _lock:
        if _owner is None:
            _owner = name
        return _owner == name


def owner() -> str | None:
    """Which OpenSSL GOST backend this process uses, if any yet."""
    return _owner


@dataclass(frozen=True)
class Algorithms:
    """What a backend actually offers (OpenSSL names)."""

    digests: tuple[str, ...]
    key_types: tuple[str, ...]
    signatures: tuple[str, ...]


class EvpPublicKey:
    """A public key held as an ``EVP_PKEY``; verify is one ctypes call on a per-thread context."""

    def __init__(self, pkey: int) -> None:
        self._pkey = pkey
        self._local = threading.local()
        self._ctxs: list[int] = []  # every thread's EVP_PKEY_CTX, freed with the key

    def _new_ctx(self) -> int:
        return check_ptr(lib.EVP_PKEY_CTX_new(self._pkey, None), "EVP_PKEY_CTX_new")

    def _ctx(self) -> int:
        ctx: int | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = self._new_ctx()
            self._ctxs.append(ctx)
            check(lib.EVP_PKEY_verify_init(ctx), "EVP_PKEY_verify_init")
            self._local.ctx = ctx
        return ctx

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        ok = lib.EVP_PKEY_verify(self._ctx(), signature, len(signature), digest, len(digest)) == 1
        if not ok:
            clear_errors()
        return bool(ok)

    def __del__(self, _free: Any = lib.EVP_PKEY_free, _free_ctx: Any = lib.EVP_PKEY_CTX_free) -> None:
        # ``lib`` may already be gone at interpreter shutdown: keep our own references
        for ctx in getattr(self, "_ctxs", ()):
            _free_ctx(ctx)
        self._ctxs = []
        if getattr(self, "_pkey", None):
            _free(self._pkey)
            self._pkey = 0


class EvpPrivateKey:
    """A private key held as an ``EVP_PKEY``; never re-parsed per signature."""

    def __init__(self, pkey: int, size: int) -> None:
        self._pkey = pkey
        self.size = size
        self._local = threading.local()
        self._ctxs: list[int] = []

    def _new_ctx(self) -> int:
        return check_ptr(lib.EVP_PKEY_CTX_new(self._pkey, None), "EVP_PKEY_CTX_new")

    def _ctx(self) -> int:
        ctx: int | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = self._new_ctx()
            self._ctxs.append(ctx)
            check(lib.EVP_PKEY_sign_init(ctx), "EVP_PKEY_sign_init")
            self._local.ctx = ctx
            self._local.buf = ctypes.create_string_buffer(2 * self.size)
            self._local.len = c_size_t(0)
        return ctx

    def sign_digest(self, digest: bytes) -> bytes:
        ctx = self._ctx()
        buf = self._local.buf
        n = self._local.len
        n.value = len(buf)
        check(lib.EVP_PKEY_sign(ctx, buf, ctypes.byref(n), digest, len(digest)), "EVP_PKEY_sign")
        return bytes(buf.raw[: n.value])

    def public_key_info(self) -> bytes:
        """SubjectPublicKeyInfo DER of the matching public key."""
        return i2d("i2d_PUBKEY", self._pkey)

    def pkcs8(self) -> bytes:
        """PKCS#8 PrivateKeyInfo DER (unencrypted): only for writing key files."""
        p8 = check_ptr(lib.EVP_PKEY2PKCS8(self._pkey), "EVP_PKEY2PKCS8")
        try:
            return i2d("i2d_PKCS8_PRIV_KEY_INFO", p8)
        finally:
            lib.PKCS8_PRIV_KEY_INFO_free(p8)

    def evp_pkey(self) -> int:
        """The raw ``EVP_PKEY*`` (for PKCS#12 export); owned by this object."""
        return self._pkey

    def __del__(self, _free: Any = lib.EVP_PKEY_free, _free_ctx: Any = lib.EVP_PKEY_CTX_free) -> None:
        # ``lib`` may already be gone at interpreter shutdown: keep our own references
        for ctx in getattr(self, "_ctxs", ()):
            _free_ctx(ctx)
        self._ctxs = []
        if getattr(self, "_pkey", None):
            _free(self._pkey)
            self._pkey = 0


_md_ctx = threading.local()


def digest_chunks(md: int, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Digest of several buffers with the fetched or engine ``EVP_MD`` ``md``, one ``EVP_MD_CTX`` reused per thread."""
    ctx: int | None = getattr(_md_ctx, "ctx", None)
    if not ctx:
        ctx = check_ptr(lib.EVP_MD_CTX_new(), "EVP_MD_CTX_new")
        _md_ctx.ctx = ctx
    check(lib.EVP_DigestInit_ex(ctx, md, None), "EVP_DigestInit_ex")
    for chunk in chunks:
        check(lib.EVP_DigestUpdate(ctx, chunk, len(chunk)), "EVP_DigestUpdate")
    out = ctypes.create_string_buffer(64)
    n = c_uint(0)
    check(lib.EVP_DigestFinal_ex(ctx, out, ctypes.byref(n)), "EVP_DigestFinal_ex")
    return out.raw[: n.value]


def digest(md: int, data: bytes) -> bytes:
    """One-shot digest with the fetched or engine ``EVP_MD`` ``md``."""
    out = ctypes.create_string_buffer(64)
    n = c_uint(0)
    check(lib.EVP_Digest(data, len(data), out, ctypes.byref(n), md, None), "EVP_Digest")
    return out.raw[: n.value]
