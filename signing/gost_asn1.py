"""ASN.1 of GOST keys (RFC 9215 / RFC 4491) on top of ``asn1crypto``.

asn1crypto parses X.509 and CMS generically but refuses to interpret a GOST
SubjectPublicKeyInfo (``KeyError`` on the algorithm), so the two key structures are
declared here.  Byte orders: the public key is ``X || Y`` with each coordinate
little-endian; the private key is a little-endian integer (``docs/protocols.md`` lists
the byte orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from asn1crypto import core

from signing import oids

__all__ = ["KeyParams", "PublicKeyInfo", "PrivateKeyInfo", "parse_spki", "build_spki", "parse_pkcs8", "build_pkcs8"]


class KeyParams(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
        ("encryption_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class PublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", AlgorithmIdentifier), ("public_key", core.BitString)]


class PrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


@dataclass(frozen=True)
class GostPublicKey:
    """A decoded GOST public key: algorithm, parameter set and the raw ``X || Y`` (LE)."""

    algorithm: str
    paramset: str
    digest_paramset: str | None
    point_le: bytes

    @property
    def size(self) -> int:
        return oids.KEY_SIZE.get(self.algorithm, len(self.point_le) // 2)


def _params(alg: AlgorithmIdentifier) -> tuple[str, str | None]:
    raw = alg["parameters"]
    if isinstance(raw, core.Void) or raw.contents is None:
        raise ValueError("нет параметров ключа ГОСТ")
    params = KeyParams.load(raw.dump())
    dig = params["digest_param_set"]
    return cast(str, params["public_key_param_set"].dotted), (None if isinstance(dig, core.Void) else cast(str, dig.dotted))


def parse_spki(der: bytes) -> GostPublicKey:
    """Decode a GOST SubjectPublicKeyInfo."""
    spki = PublicKeyInfo.load(der)
    algorithm = cast(str, spki["algorithm"]["algorithm"].dotted)
    if algorithm not in oids.KEY_SIZE:
        raise ValueError(f"алгоритм ключа {algorithm} не ГОСТ")
    paramset, digest = _params(spki["algorithm"])
    inner = core.OctetString.load(_bits(spki))
    point = cast(bytes, inner.native)
    if len(point) != 2 * oids.KEY_SIZE[algorithm]:
        raise ValueError("неверная длина открытого ключа ГОСТ")
    return GostPublicKey(algorithm, paramset, digest, point)


def _bits(spki: PublicKeyInfo) -> bytes:
    contents = cast(bytes, spki["public_key"].contents)
    return contents[1:]  # drop the unused-bits octet


def build_spki(algorithm: str, paramset: str, digest_paramset: str | None, point_le: bytes) -> bytes:
    """Encode a GOST SubjectPublicKeyInfo (the OCTET STRING is wrapped in the BIT STRING)."""
    params: dict[str, Any] = {"public_key_param_set": paramset}
    if digest_paramset:
        params["digest_param_set"] = digest_paramset
    alg = AlgorithmIdentifier({"algorithm": algorithm, "parameters": core.Any.load(KeyParams(params).dump())})
    inner = core.OctetString(point_le).dump()
    bits = core.BitString.load(b"\x03" + _der_len(len(inner) + 1) + b"\x00" + inner)
    return cast(bytes, PublicKeyInfo({"algorithm": alg, "public_key": bits}).dump())


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


@dataclass(frozen=True)
class GostPrivateKey:
    """A decoded GOST private key; ``d`` never leaves the process."""

    algorithm: str
    paramset: str
    digest_paramset: str | None
    d: int = 0

    def __repr__(self) -> str:  # never print the key
        return f"GostPrivateKey({self.algorithm}, {self.paramset})"


def parse_pkcs8(der: bytes) -> GostPrivateKey:
    """Decode a GOST PKCS#8 PrivateKeyInfo (raw LE octets, wrapped OCTET STRING or INTEGER)."""
    info = PrivateKeyInfo.load(der)
    algorithm = cast(str, info["private_key_algorithm"]["algorithm"].dotted)
    if algorithm not in oids.KEY_SIZE:
        raise ValueError(f"алгоритм ключа {algorithm} не ГОСТ")
    paramset, digest = _params(info["private_key_algorithm"])
    raw = cast(bytes, info["private_key"].native)
    size = oids.KEY_SIZE[algorithm]
    if len(raw) == size:
        d = int.from_bytes(raw, "little")
    elif raw[:1] == b"\x04":
        d = int.from_bytes(cast(bytes, core.OctetString.load(raw).native), "little")
    elif raw[:1] == b"\x02":
        d = int(cast(int, core.Integer.load(raw).native))
    else:
        raise ValueError("формат закрытого ключа ГОСТ не поддерживается (маскированный ключ?)")
    return GostPrivateKey(algorithm, paramset, digest, d)


def build_pkcs8(key: GostPrivateKey) -> bytes:
    """Encode a GOST PKCS#8 PrivateKeyInfo the way OpenSSL's GOST engine does (raw LE octets)."""
    params: dict[str, Any] = {"public_key_param_set": key.paramset}
    if key.digest_paramset:
        params["digest_param_set"] = key.digest_paramset
    alg = AlgorithmIdentifier({"algorithm": key.algorithm, "parameters": core.Any.load(KeyParams(params).dump())})
    size = oids.KEY_SIZE[key.algorithm]
    info = PrivateKeyInfo({"version": 0, "private_key_algorithm": alg, "private_key": key.d.to_bytes(size, "little")})
    return cast(bytes, info.dump())
