"""Choice of the GOST primitive backend: the OpenSSL provider, else the engine, else pure Python.

The rest of the package talks to a :class:`Backend` only: digest, load a private key,
load a public key, generate a key.  The order of preference:

1. ``openssl-provider``: ``gostprov`` in a library context of its own (OpenSSL 3's way;
   needs a provider with GOST keys and signatures, see :mod:`signing.gost_provider`);
2. ``openssl-engine``: the GOST engine (deprecated API), used only where the provider
   cannot serve;
3. ``pure-python``: ``gostcrypto``, about a thousand times slower, with a warning.

``GATEWAY_GOST_BACKEND=provider|engine|python`` forces one (tests, CI); a forced OpenSSL
backend that cannot load is an error, never a silent fallback.  :func:`backend_info` says
which backend is in use, what it offers and why a faster one was not taken.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from typing import Protocol

from signing.gost_evp import Algorithms

__all__ = [
    "Algorithms",
    "Backend",
    "BackendInfo",
    "BackendUnavailable",
    "FallbackWarning",
    "PrivateKeyOps",
    "PublicKeyOps",
    "backend_info",
    "get_backend",
    "python_backend",
    "INSTALL_HINT",
    "PROVIDER",
    "ENGINE",
    "PYTHON",
]

INSTALL_HINT = "apt-get install libengine-gost-openssl"
PROVIDER = "openssl-provider"
ENGINE = "openssl-engine"
PYTHON = "pure-python"
_FORCED = {"provider": PROVIDER, "engine": ENGINE, "python": PYTHON, PROVIDER: PROVIDER, ENGINE: ENGINE, PYTHON: PYTHON}


class FallbackWarning(RuntimeWarning):
    """No OpenSSL GOST backend; signatures are made by slow pure-Python code."""


class BackendUnavailable(RuntimeError):
    """``GATEWAY_GOST_BACKEND`` names a backend that cannot be used here."""


class PublicKeyOps(Protocol):
    def verify_digest(self, digest: bytes, signature: bytes) -> bool: ...


class PrivateKeyOps(Protocol):
    size: int

    def sign_digest(self, digest: bytes) -> bytes: ...

    def public_key_info(self) -> bytes: ...

    def pkcs8(self) -> bytes: ...


class Backend(Protocol):
    name: str

    def digest(self, algorithm: str, data: bytes) -> bytes: ...

    def digest_chunks(self, algorithm: str, chunks: list[bytes] | tuple[bytes, ...]) -> bytes: ...

    def load_private_key(self, pkcs8_der: bytes, size: int) -> PrivateKeyOps: ...

    def load_public_key(self, spki_der: bytes) -> PublicKeyOps: ...

    def generate(self, size: int, paramset: str) -> PrivateKeyOps: ...


_lock = threading.RLock()
_backend: Backend | None = None
_python: Backend | None = None
_skipped: list[tuple[str, str]] = []  # (faster backend, why it was not used), in order of preference
_forced: str | None = None


def python_backend() -> Backend:
    """The pure-Python backend (always available)."""
    global _python
    if _python is None:
        from signing.gost_python import PythonBackend

        _python = PythonBackend()
    return _python


def _build(name: str) -> Backend:
    if name == PROVIDER:
        from signing.gost_provider import ProviderBackend

        return ProviderBackend()
    if name == ENGINE:
        from signing.gost_engine import EngineBackend

        return EngineBackend()
    return python_backend()


def get_backend() -> Backend:
    """The process-wide backend: provider, else engine, else the fallback (warned once).

    Raises :class:`BackendUnavailable` when ``GATEWAY_GOST_BACKEND`` forces a backend that
    does not load.
    """
    global _backend, _forced
    with _lock:
        if _backend is not None:
            return _backend
        raw = os.environ.get("GATEWAY_GOST_BACKEND", "").strip().lower()
        if raw:
            forced = _FORCED.get(raw)
            if forced is None:
                raise BackendUnavailable(f"GATEWAY_GOST_BACKEND={raw}: ожидается provider, engine или python")
            _forced = forced
            if forced != PYTHON:
                try:
                    _backend = _build(forced)
                except Exception as exc:
                    raise BackendUnavailable(f"GATEWAY_GOST_BACKEND={raw}: бэкенд {forced} недоступен: {exc}") from exc
                return _backend
            _skipped[:] = [(PROVIDER, "GATEWAY_GOST_BACKEND=python"), (ENGINE, "GATEWAY_GOST_BACKEND=python")]
        else:
            _skipped.clear()
            for name in (PROVIDER, ENGINE):
                try:
                    _backend = _build(name)
                    return _backend
                except Exception as exc:  # missing or incapable: try the next one
                    _skipped.append((name, str(exc)))
        reasons = "; ".join(f"{n}: {why}" for n, why in _skipped)
        warnings.warn(
            f"GOST в OpenSSL недоступен ({reasons}); подписи делает медленный код на Python (примерно в 1000 раз "
            f"медленнее). Установите провайдер и движок GOST: {INSTALL_HINT}",
            FallbackWarning,
            stacklevel=2,
        )
        _backend = python_backend()
        return _backend


@dataclass(frozen=True)
class BackendInfo:
    """The backend in use, what it offers, and why the faster ones were not taken."""

    name: str
    openssl_version: str
    algorithms: Algorithms
    skipped: tuple[tuple[str, str], ...]
    forced: str | None

    @property
    def slow(self) -> bool:
        return self.name == PYTHON


_PYTHON_ALGORITHMS = Algorithms(("md_gost12_256", "md_gost12_512"), ("gost2012_256", "gost2012_512"),
                                ("gost2012_256", "gost2012_512"))  # fmt: skip


def backend_info(backend: Backend | None = None) -> BackendInfo:
    """Describe ``backend`` (default: the process's backend)."""
    from signing.libcrypto import lib

    b = backend or get_backend()
    algorithms = getattr(b, "algorithms", None)
    algs = algorithms() if callable(algorithms) else _PYTHON_ALGORITHMS
    raw = lib.OpenSSL_version(0)
    version = raw.decode("ascii", "replace") if raw else "OpenSSL ?"
    with _lock:
        preference = (PROVIDER, ENGINE, PYTHON)
        faster = preference[: preference.index(b.name)] if b.name in preference else ()
        skipped = tuple((n, why) for n, why in _skipped if n in faster)
        if b is _backend and _forced is not None and _forced != PYTHON:
            skipped = tuple((n, f"GATEWAY_GOST_BACKEND задаёт {_forced}") for n in faster)
    return BackendInfo(b.name, version, algs, skipped, _forced if b is _backend else None)
