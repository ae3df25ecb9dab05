"""Choice of the GOST primitive backend: the OpenSSL engine, else pure Python with a warning.

The rest of the package talks to a :class:`Backend` only: digest, load a private key,
load a public key, generate a key.  ``GATEWAY_GOST_BACKEND=python`` forces the
fallback (used by tests that run both backends in one process pass the backend
explicitly instead).
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Protocol

__all__ = ["Backend", "PrivateKeyOps", "PublicKeyOps", "get_backend", "python_backend", "FallbackWarning"]

INSTALL_HINT = "apt-get install libengine-gost-openssl"


class FallbackWarning(RuntimeWarning):
    """The GOST engine is missing; signatures are made by slow pure-Python code."""


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


_lock = threading.Lock()
_backend: Backend | None = None
_python: Backend | None = None


def python_backend() -> Backend:
    """The pure-Python backend (always available)."""
    global _python
    if _python is None:
        from signing.gost_python import PythonBackend

        _python = PythonBackend()
    return _python


def get_backend() -> Backend:
    """The process-wide backend: the engine when it loads, else the fallback (warned once)."""
    global _backend
    with _lock:
        if _backend is not None:
            return _backend
        reason: str
        if os.environ.get("GATEWAY_GOST_BACKEND", "").lower() == "python":
            reason = "GATEWAY_GOST_BACKEND=python"
        else:
            try:
                from signing.gost_engine import EngineBackend

                _backend = EngineBackend()
                return _backend
            except Exception as exc:  # engine missing or broken: fall back
                reason = str(exc)
        warnings.warn(
            f"Движок GOST для OpenSSL недоступен ({reason}); подписи делает медленный код на Python. "
            f"Установите движок: {INSTALL_HINT}",
            FallbackWarning,
            stacklevel=2,
        )
        _backend = python_backend()
        return _backend
