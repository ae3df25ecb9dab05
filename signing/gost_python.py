"""Pure-Python GOST fallback over ``gostcrypto``, used only when the engine is absent.

About 20 signatures per second: enough for development and an emulator, not for bulk.
``gostcrypto`` works with big-endian ``r || s``, big-endian ``X || Y`` and a big-endian
hash integer, so every call converts from the wire conventions (``s || r``, LE point,
LE hash): reverse each coordinate, reverse the digest, swap the signature halves.
GOST R 34.11-94 (legacy GOST 2001 samples) is not available here.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

import gostcrypto

from signing import oids
from signing.gost_asn1 import GostPrivateKey, build_pkcs8, build_spki, parse_pkcs8, parse_spki

__all__ = ["PythonBackend", "PythonPrivateKey", "PythonPublicKey"]

# RFC 7091 test curve (OpenSSL id-GostR3410-2001-TestParamSet, 1.2.643.2.2.35.0)
_TEST_CURVE = {
    "p": 0x8000000000000000000000000000000000000000000000000000000000000431,
    "a": 0x7,
    "b": 0x5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E,
    "m": 0x8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3,
    "q": 0x8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3,
    "x": 0x2,
    "y": 0x8E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8,
}


def _curve(paramset: str) -> tuple[dict[str, Any], int]:
    name = oids.CURVE_BY_PARAMSET.get(paramset)
    if name is None:
        raise ValueError(f"набор параметров {paramset} не поддерживается")
    if name == "test":
        return _TEST_CURVE, 32
    curve = cast(dict[str, Any], gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[name])
    return curve, (64 if "512" in name else 32)


def _engine(paramset: str) -> tuple[Any, int]:
    curve, size = _curve(paramset)
    mode = gostcrypto.gostsignature.MODE_256 if size == 32 else gostcrypto.gostsignature.MODE_512
    return gostcrypto.gostsignature.new(mode, curve), size


def _swap_halves(b: bytes) -> bytes:
    h = len(b) // 2
    return b[h:] + b[:h]


class PythonPublicKey:
    def __init__(self, spki_der: bytes) -> None:
        key = parse_spki(spki_der)
        self._sig, self._size = _engine(key.paramset)
        p = key.point_le
        self._point_be = bytearray(p[: self._size][::-1] + p[self._size :][::-1])

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * self._size or len(digest) != self._size:
            return False
        try:
            return bool(self._sig.verify(self._point_be, bytearray(digest[::-1]), bytearray(_swap_halves(signature))))
        except gostcrypto.gostsignature.GOSTSignatureError:
            return False


class PythonPrivateKey:
    def __init__(self, key: GostPrivateKey) -> None:
        self._key = key
        self._sig, self.size = _engine(key.paramset)
        self._public: bytes | None = None

    def sign_digest(self, digest: bytes, nonce: int | None = None) -> bytes:
        """Sign; ``nonce`` only for the RFC 7091 known-answer test."""
        d = bytearray(self._key.d.to_bytes(self.size, "big"))
        k = bytearray(nonce.to_bytes(self.size, "big")) if nonce is not None else bytearray(b"")
        rs = bytes(self._sig.sign(d, bytearray(digest[::-1]), k))
        return _swap_halves(rs)

    def public_key_info(self) -> bytes:
        if self._public is None:
            pub = bytes(self._sig.public_key_generate(bytearray(self._key.d.to_bytes(self.size, "big"))))
            s = self.size
            point_le = pub[:s][::-1] + pub[s:][::-1]
            self._public = build_spki(self._key.algorithm, self._key.paramset, self._key.digest_paramset, point_le)
        return self._public

    def pkcs8(self) -> bytes:
        return build_pkcs8(self._key)


class PythonBackend:
    """Streebog and GOST R 34.10-2012 in pure Python (``gostcrypto``)."""

    name = "pure-python"

    def digest(self, algorithm: str, data: bytes) -> bytes:
        if algorithm not in ("streebog256", "streebog512"):
            raise ValueError(f"хэш {algorithm} недоступен без движка GOST")
        return bytes(gostcrypto.gosthash.new(algorithm, data=data).digest())

    def digest_chunks(self, algorithm: str, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        return self.digest(algorithm, b"".join(chunks))

    def load_private_key(self, pkcs8_der: bytes, size: int) -> PythonPrivateKey:
        return PythonPrivateKey(parse_pkcs8(pkcs8_der))

    def load_public_key(self, spki_der: bytes) -> PythonPublicKey:
        return PythonPublicKey(spki_der)

    def generate(self, size: int, paramset: str) -> PythonPrivateKey:
        oid = oids.PARAMSET_BY_ENGINE_NAME.get((size, paramset), paramset)
        curve, _ = _curve(oid)
        q = int(curve["q"])
        d = 1 + secrets.randbelow(q - 1)
        alg = oids.GOST2012_256 if size == 32 else oids.GOST2012_512
        digest = oids.STREEBOG256 if size == 32 else None
        return PythonPrivateKey(GostPrivateKey(alg, oid, digest, d))
