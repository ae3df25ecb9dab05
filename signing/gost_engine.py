"""GOST primitives through OpenSSL's GOST engine (Debian ``libengine-gost-openssl``).

The engine is loaded in-process through OpenSSL's ``dynamic`` engine with the path found
on this machine, so nobody edits OpenSSL's configuration.  For ``openssl`` subprocesses
(tests, interoperability checks, the benchmark baseline) :func:`openssl_env` generates a
configuration file at run time and points ``OPENSSL_CONF`` at it.

Speed matters here (thousands of XML signatures per second): keys are parsed once into an
``EVP_PKEY`` and an ``EVP_PKEY_CTX`` is kept per key and thread; digests reuse one
``EVP_MD_CTX`` per thread.  Every call is one or two ctypes calls.
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import os
import re
import tempfile
import threading
from ctypes import c_size_t, c_uint, c_void_p
from pathlib import Path
from typing import Any

from signing.libcrypto import OpenSSLError, check, check_ptr, clear_errors, d2i, i2d, lib

__all__ = [
    "EngineBackend",
    "EnginePrivateKey",
    "EnginePublicKey",
    "engine_path",
    "load_engine",
    "openssl_config_path",
    "openssl_env",
]

_ENGINE_METHOD_ALL = 0xFFFF
_OPENSSL_ENGINES_DIR = 5
_DIGEST_NAMES = {"streebog256": b"md_gost12_256", "streebog512": b"md_gost12_512", "gost94": b"md_gost94"}
_DIGEST_SIZES = {"streebog256": 32, "streebog512": 64, "gost94": 32}

_lock = threading.Lock()
_engine: int | None = None
_engine_error: str | None = None
_config_path: Path | None = None


def engine_path() -> Path | None:
    """Where ``gost.so`` lives: ``GATEWAY_GOST_ENGINE`` if set, else OpenSSL's engines dir."""
    explicit = os.environ.get("GATEWAY_GOST_ENGINE")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    candidates: list[str] = []
    raw = lib.OpenSSL_version(_OPENSSL_ENGINES_DIR)
    if raw:
        m = re.search(r'"([^"]+)"', raw.decode("utf-8", "replace"))
        if m:
            candidates.append(os.path.join(m.group(1), "gost.so"))
    candidates += sorted(glob.glob("/usr/lib/*/engines-3/gost.so")) + sorted(glob.glob("/usr/lib*/engines-3/gost.so"))
    for c in candidates:
        if os.path.isfile(c):
            return Path(c)
    return None


def load_engine() -> int | None:
    """Load and register the GOST engine once per process; ``None`` when unavailable."""
    global _engine, _engine_error
    with _lock:
        if _engine is not None or _engine_error is not None:
            return _engine
        path = engine_path()
        if path is None:
            _engine_error = "gost.so не найден"
            return None
        e = lib.ENGINE_by_id(b"dynamic")
        try:
            check_ptr(e, "ENGINE_by_id(dynamic)")
            for cmd, arg in ((b"SO_PATH", str(path).encode()), (b"ID", b"gost"), (b"LIST_ADD", b"1"), (b"LOAD", None)):
                check(lib.ENGINE_ctrl_cmd_string(e, cmd, arg, 0), f"ENGINE_ctrl {cmd.decode()}")
            check(lib.ENGINE_init(e), "ENGINE_init")
            check(lib.ENGINE_set_default(e, _ENGINE_METHOD_ALL), "ENGINE_set_default")
        except OpenSSLError as exc:
            _engine_error = str(exc)
            clear_errors()
            return None
        _engine = e
        return _engine


def engine_error() -> str | None:
    """Why the engine could not be loaded (after :func:`load_engine` returned ``None``)."""
    return _engine_error


def openssl_config_path() -> Path:
    """Generate (once) an OpenSSL configuration that loads the GOST engine by default."""
    global _config_path
    with _lock:
        if _config_path is not None and _config_path.exists():
            return _config_path
        path = engine_path()
        if path is None:
            raise OpenSSLError("движок GOST не установлен: apt-get install libengine-gost-openssl")
        fd, name = tempfile.mkstemp(prefix="gateway-openssl-gost-", suffix=".cnf")
        text = (
            "openssl_conf = openssl_def\n"
            "[openssl_def]\nengines = engine_section\n"
            "[engine_section]\ngost = gost_section\n"
            f"[gost_section]\nengine_id = gost\ndynamic_path = {path}\ndefault_algorithms = ALL\n"
        )
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        _config_path = Path(name)
        atexit.register(_remove_config, _config_path)
        return _config_path


def _remove_config(path: Path) -> None:
    path.unlink(missing_ok=True)


def openssl_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an ``openssl`` subprocess that sees the GOST algorithms."""
    env = dict(os.environ if base is None else base)
    env["OPENSSL_CONF"] = str(openssl_config_path())
    return env


class _Ctx(threading.local):
    md_ctx: int = 0


class EnginePublicKey:
    """A public key parsed once from SubjectPublicKeyInfo DER; verify is one ctypes call."""

    def __init__(self, pkey: int) -> None:
        self._pkey = pkey
        self._local = threading.local()
        self._ctxs: list[int] = []  # every thread's EVP_PKEY_CTX, freed with the key

    def _ctx(self) -> int:
        ctx: int | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = check_ptr(lib.EVP_PKEY_CTX_new(self._pkey, None), "EVP_PKEY_CTX_new")
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


class EnginePrivateKey:
    """A private key held as an ``EVP_PKEY``; never re-parsed per signature."""

    def __init__(self, pkey: int, size: int) -> None:
        self._pkey = pkey
        self.size = size
        self._local = threading.local()
        self._ctxs: list[int] = []

    def _ctx(self) -> int:
        ctx: int | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = check_ptr(lib.EVP_PKEY_CTX_new(self._pkey, None), "EVP_PKEY_CTX_new")
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


class EngineBackend:
    """GOST R 34.11-2012 / 34.10-2012 through libcrypto and the GOST engine."""

    name = "openssl-gost-engine"

    def __init__(self) -> None:
        if load_engine() is None:
            raise OpenSSLError(f"движок GOST недоступен: {engine_error()}")
        self._mds: dict[str, int] = {}
        for alg, ossl_name in _DIGEST_NAMES.items():
            self._mds[alg] = check_ptr(lib.EVP_get_digestbyname(ossl_name), f"digest {alg}")
        self._local = _Ctx()

    def digest(self, algorithm: str, data: bytes) -> bytes:
        md = self._mds[algorithm]
        out = ctypes.create_string_buffer(64)
        n = c_uint(0)
        check(lib.EVP_Digest(data, len(data), out, ctypes.byref(n), md, None), "EVP_Digest")
        return out.raw[: n.value]

    def digest_chunks(self, algorithm: str, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        """Digest of several buffers without joining them (one reused ``EVP_MD_CTX``)."""
        ctx = self._local.md_ctx
        if not ctx:
            ctx = check_ptr(lib.EVP_MD_CTX_new(), "EVP_MD_CTX_new")
            self._local.md_ctx = ctx
        check(lib.EVP_DigestInit_ex(ctx, self._mds[algorithm], None), "EVP_DigestInit_ex")
        for chunk in chunks:
            check(lib.EVP_DigestUpdate(ctx, chunk, len(chunk)), "EVP_DigestUpdate")
        out = ctypes.create_string_buffer(64)
        n = c_uint(0)
        check(lib.EVP_DigestFinal_ex(ctx, out, ctypes.byref(n)), "EVP_DigestFinal_ex")
        return out.raw[: n.value]

    def load_private_key(self, pkcs8_der: bytes, size: int) -> EnginePrivateKey:
        return EnginePrivateKey(d2i("d2i_AutoPrivateKey", pkcs8_der), size)

    def load_public_key(self, spki_der: bytes) -> EnginePublicKey:
        return EnginePublicKey(d2i("d2i_PUBKEY", spki_der))

    def generate(self, size: int, paramset: str) -> EnginePrivateKey:
        """New key pair; ``paramset`` is the engine's name (``A``, ``B``, ``C``, ``TCA``…)."""
        alg = b"gost2012_256" if size == 32 else b"gost2012_512"
        nid = lib.OBJ_txt2nid(alg)
        ctx = check_ptr(lib.EVP_PKEY_CTX_new_id(nid, None), "EVP_PKEY_CTX_new_id")
        try:
            check(lib.EVP_PKEY_keygen_init(ctx), "EVP_PKEY_keygen_init")
            if lib.EVP_PKEY_CTX_ctrl_str(ctx, b"paramset", paramset.encode()) <= 0:
                raise OpenSSLError(f"paramset {paramset}: {_last()}")
            pkey = c_void_p(None)
            check(lib.EVP_PKEY_keygen(ctx, ctypes.byref(pkey)), "EVP_PKEY_keygen")
            return EnginePrivateKey(check_ptr(pkey.value, "EVP_PKEY_keygen"), size)
        finally:
            lib.EVP_PKEY_CTX_free(ctx)


def _last() -> str:
    from signing.libcrypto import last_error

    return last_error()
