"""GOST primitives through OpenSSL's GOST engine (Debian ``libengine-gost-openssl``).

The ENGINE API is deprecated in OpenSSL 3 and removed in 4.0: :mod:`signing.backend`
prefers the provider (:mod:`signing.gost_provider`) and uses this module only where the
provider cannot sign.  The engine is loaded in-process through OpenSSL's ``dynamic``
engine with the path found on this machine, so nobody edits OpenSSL's configuration.
For ``openssl`` subprocesses (tests, interoperability checks, the benchmark baseline)
:func:`openssl_env` generates a configuration file at run time that loads the engine (or,
without it, the provider) and points ``OPENSSL_CONF`` at it.

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
from ctypes import c_void_p
from pathlib import Path

from signing import gost_evp
from signing.gost_evp import Algorithms, EvpPrivateKey, EvpPublicKey, digest_chunks
from signing.gost_evp import digest as evp_digest
from signing.libcrypto import OpenSSLError, check, check_ptr, clear_errors, d2i, lib

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
_config_paths: dict[str, Path] = {}


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
        if gost_evp.owner() == "provider":
            # ENGINE_set_default is process-wide: OpenSSL 3.0 would route the provider's GOST keys to the engine
            return None  # not remembered as an error: the provider backend is simply in charge here
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
            if not gost_evp.claim("engine"):
                return None
            check(lib.ENGINE_set_default(e, _ENGINE_METHOD_ALL), "ENGINE_set_default")
        except OpenSSLError as exc:
            _engine_error = str(exc)
            clear_errors()
            return None
        _engine = e
        return _engine


def engine_error() -> str | None:
    """Why the engine could not be loaded (after :func:`load_engine` returned ``None``)."""
    if _engine is None and gost_evp.owner() == "provider":
        return "в процессе работает провайдер GOST: движок и провайдер в одном процессе не смешиваются"
    return _engine_error


def openssl_config_path(kind: str | None = None) -> Path:
    """Generate (once per kind) an OpenSSL configuration with the GOST algorithms.

    ``kind`` is ``"provider"`` (``gostprov`` + ``default`` activated) or ``"engine"`` (the
    GOST engine by default).  Unset: the engine's while ``gost.so`` is installed, else the
    provider's.  Even when this process signs through the provider, the ``openssl`` tool
    needs the engine for certificates and CMS on OpenSSL 3.0: its X.509 and CMS code looks
    digests up by NID (``EVP_get_digestbynid``), which provider digests do not register
    ("unknown message digest algorithm"), and ``dgst -sign`` duplicates signature contexts.
    """
    if kind is None:
        kind = "engine" if engine_path() is not None else "provider"
    with _lock:
        existing = _config_paths.get(kind)
        if existing is not None and existing.exists():
            return existing
        if kind == "provider":
            from signing.gost_provider import provider_path

            module = provider_path()
            if module is None:
                raise OpenSSLError("провайдер GOST не установлен: apt-get install libengine-gost-openssl")
            text = (
                "openssl_conf = openssl_def\n"
                "[openssl_def]\nproviders = provider_section\n"
                "[provider_section]\ngostprov = gostprov_section\ndefault = default_section\n"
                f"[gostprov_section]\nmodule = {module}\nactivate = 1\n"
                "[default_section]\nactivate = 1\n"
            )
        elif kind == "engine":
            path = engine_path()
            if path is None:
                raise OpenSSLError("движок GOST не установлен: apt-get install libengine-gost-openssl")
            text = (
                "openssl_conf = openssl_def\n"
                "[openssl_def]\nengines = engine_section\n"
                "[engine_section]\ngost = gost_section\n"
                f"[gost_section]\nengine_id = gost\ndynamic_path = {path}\ndefault_algorithms = ALL\n"
            )
        else:
            raise ValueError(f"unknown OpenSSL configuration kind: {kind}")
        fd, name = tempfile.mkstemp(prefix=f"gateway-openssl-gost-{kind}-", suffix=".cnf")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        _config_paths[kind] = Path(name)
        atexit.register(_remove_config, _config_paths[kind])
        return _config_paths[kind]


def _remove_config(path: Path) -> None:
    path.unlink(missing_ok=True)


def openssl_env(base: dict[str, str] | None = None, kind: str | None = None) -> dict[str, str]:
    """Environment for an ``openssl`` subprocess that sees the GOST algorithms (see :func:`openssl_config_path`)."""
    env = dict(os.environ if base is None else base)
    env["OPENSSL_CONF"] = str(openssl_config_path(kind))
    return env


class EnginePublicKey(EvpPublicKey):
    """A public key parsed once from SubjectPublicKeyInfo DER by the engine."""


class EnginePrivateKey(EvpPrivateKey):
    """A private key parsed once from PKCS#8 by the engine; never re-parsed per signature."""


class EngineBackend:
    """GOST R 34.11-2012 / 34.10-2012 through libcrypto and the GOST engine."""

    name = "openssl-engine"

    def __init__(self) -> None:
        if load_engine() is None:
            raise OpenSSLError(f"движок GOST недоступен: {engine_error()}")
        self._mds: dict[str, int] = {}
        for alg, ossl_name in _DIGEST_NAMES.items():
            self._mds[alg] = check_ptr(lib.EVP_get_digestbyname(ossl_name), f"digest {alg}")

    def algorithms(self) -> Algorithms:
        """Digests and key types (with signatures) the engine offers, OpenSSL names."""
        digests = tuple(n.decode() for n in _DIGEST_NAMES.values() if lib.EVP_get_digestbyname(n))
        keys: list[str] = []
        for name in (b"gost2012_256", b"gost2012_512"):
            ctx = lib.EVP_PKEY_CTX_new_id(lib.OBJ_txt2nid(name), None)
            if ctx:
                keys.append(name.decode())
                lib.EVP_PKEY_CTX_free(ctx)
        clear_errors()
        return Algorithms(digests, tuple(keys), tuple(keys))

    def digest(self, algorithm: str, data: bytes) -> bytes:
        return evp_digest(self._mds[algorithm], data)

    def digest_chunks(self, algorithm: str, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        """Digest of several buffers without joining them (one reused ``EVP_MD_CTX``)."""
        return digest_chunks(self._mds[algorithm], chunks)

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
