"""Strict DER, just enough for the CMS hot paths: write and read tag-length-value items.

asn1crypto builds and parses whole object trees, which costs more than the GOST signature
itself for a small CMS message.  The signing and verifying fast paths in
:mod:`signing.cms` need only a few primitives: lengths, TLVs, INTEGER, OBJECT IDENTIFIER
and UTCTime/GeneralizedTime on the writing side; one TLV at a time on the reading side.
Reading is strict on purpose: single-byte tags, definite minimal lengths, nothing left
over.  Anything else raises :class:`DERError` and the caller falls back to asn1crypto,
which stays the reference for every shape these helpers do not cover.  Pure, no I/O.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

__all__ = [
    "DERError",
    "length",
    "tlv",
    "integer",
    "oid",
    "time",
    "read",
    "children",
    "decode_oid",
    "decode_integer",
    "decode_time",
]

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18


class DERError(ValueError):
    """Not strict DER of the shape expected (the caller falls back to a full parser)."""


def length(n: int) -> bytes:
    """The DER length octets for ``n`` content octets (short form below 128)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One item: a single-byte ``tag``, the length of ``content`` and ``content``."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + length(n) + content


def integer(value: int) -> bytes:
    """INTEGER in two's complement, minimal octets."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


@functools.lru_cache(maxsize=256)
def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise DERError(f"invalid object identifier {dotted!r}")
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(out))


def time(when: datetime) -> bytes:
    """The RFC 5652 ``Time``: UTCTime for 1950–2049, GeneralizedTime otherwise (whole seconds, UTC)."""
    if when.tzinfo is None:
        raise ValueError("время подписи без часового пояса")
    when = when.astimezone(UTC)
    if 1950 <= when.year <= 2049:
        return tlv(UTC_TIME, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(GENERALIZED_TIME, f"{when.year:04d}{when:%m%d%H%M%S}Z".encode("ascii"))


def read(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The item at ``pos`` (not past ``end``): ``(tag, content start, content end)``."""
    if pos + 2 > end:
        raise DERError("truncated item")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("multi-byte tag")
    n = buf[pos + 1]
    start = pos + 2
    if n >= 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or start + k > end:
            raise DERError("indefinite or oversized length")
        n = int.from_bytes(buf[start : start + k], "big")
        if n < 0x80 or buf[start] == 0:
            raise DERError("non-minimal length")
        start += k
    stop = start + n
    if stop > end:
        raise DERError("item runs past its container")
    return tag, start, stop


def children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Every item between ``start`` and ``end``, which they must fill exactly.

    Each as ``(tag, item start, content start, content end)``: ``buf[item start:content
    end]`` is the whole encoding of the item.
    """
    out = []
    pos = start
    while pos < end:  # :func:`read`, inlined: this loop is the whole cost of a fast parse
        if pos + 2 > end:
            raise DERError("truncated item")
        tag = buf[pos]
        n = buf[pos + 1]
        first = pos + 2
        if tag & 0x1F == 0x1F:
            raise DERError("multi-byte tag")
        if n >= 0x80:
            k = n & 0x7F
            if k == 0 or k > 4 or first + k > end:
                raise DERError("indefinite or oversized length")
            n = int.from_bytes(buf[first : first + k], "big")
            if n < 0x80 or buf[first] == 0:
                raise DERError("non-minimal length")
            first += k
        stop = first + n
        if stop > end:
            raise DERError("item runs past its container")
        out.append((tag, pos, first, stop))
        pos = stop
    return out


@functools.lru_cache(maxsize=1024)
def decode_oid(content: bytes) -> str:
    """Dotted form of OBJECT IDENTIFIER content octets (minimal subidentifiers only)."""
    if not content or content[-1] & 0x80:
        raise DERError("truncated object identifier")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise DERError("non-minimal object identifier")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


def decode_integer(content: bytes) -> int:
    """INTEGER content octets (two's complement, as asn1crypto reads them)."""
    if not content:
        raise DERError("empty integer")
    return int.from_bytes(content, "big", signed=True)


def decode_time(tag: int, content: bytes) -> datetime:
    """``YYMMDDhhmmssZ`` UTCTime or ``YYYYMMDDhhmmssZ`` GeneralizedTime; other forms raise."""
    if not (content[-1:] == b"Z" and content[:-1].isdigit()):
        raise DERError("unusual time form")
    if tag == UTC_TIME and len(content) == 13:
        year = int(content[:2])
        year += 2000 if year < 50 else 1900
        rest = content[2:]
    elif tag == GENERALIZED_TIME and len(content) == 15:
        year = int(content[:4])
        rest = content[4:]
    else:
        raise DERError("unusual time form")
    try:
        return datetime(year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]), tzinfo=UTC)
    except ValueError as exc:
        raise DERError(str(exc)) from exc
