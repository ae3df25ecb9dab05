"""GOST R 34.11-2012 (Streebog) digests, in the byte order OpenSSL and gostcrypto output.

RFC 6986 and the standard print the same values byte-reversed; ``docs/protocols.md``
lists the byte orders of digests, signatures and keys.
"""

from __future__ import annotations

from signing.backend import Backend, get_backend

__all__ = ["streebog256", "streebog512", "digest"]


def digest(algorithm: str, data: bytes, backend: Backend | None = None) -> bytes:
    """``algorithm`` is ``streebog256``, ``streebog512`` or (engine only) ``gost94``."""
    return (backend or get_backend()).digest(algorithm, data)


def streebog256(data: bytes, backend: Backend | None = None) -> bytes:
    return (backend or get_backend()).digest("streebog256", data)


def streebog512(data: bytes, backend: Backend | None = None) -> bytes:
    return (backend or get_backend()).digest("streebog512", data)
