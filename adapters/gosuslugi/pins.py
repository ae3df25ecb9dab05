"""Pinned certificates: which keys may sign for SMEV (ЭП-СМЭВ) and for each sender (ЭП-ОВ).

A trusted CA issues certificates to every participant, so a valid chain says only "some
participant signed"; a pin says "this participant signed".  A pin is the SHA-256 of the
certificate's DER, the value ``openssl x509 -noout -fingerprint -sha256`` prints, so a
regional IT centre can configure it as text; several pins at once let a key rotation
overlap (the old and the new certificate are both accepted until the old one is removed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signing.certificates import Certificate, load_certificates

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def fingerprint(certificate: Certificate) -> str:
    """SHA-256 of the certificate's DER, lower-case hex without separators."""
    return hashlib.sha256(certificate.der).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """``AB:CD:…``, ``abcd…`` or OpenSSL's whole ``sha256 Fingerprint=AB:CD:…`` line → lower-case hex."""
    value = re.sub(r"[\s:]", "", text.rpartition("=")[2]).lower()
    if not _HEX64.match(value):
        raise ValueError("отпечаток сертификата: ожидается SHA-256 в шестнадцатеричном виде (64 знака)")
    return value


def fingerprints_of_files(paths: Iterable[Path]) -> set[str]:
    """The fingerprints of every certificate in these files (PEM bundles or DER); OSError/ValueError as raised."""
    out: set[str] = set()
    for path in paths:
        certificates = load_certificates(path.read_bytes())
        if not certificates:
            raise ValueError(f"в файле {path.name} нет сертификатов")
        out |= {fingerprint(c) for c in certificates}
    return out


@dataclass(frozen=True)
class Pins:
    """The certificates a signature must come from; empty pins accept nothing (fail closed)."""

    sha256: frozenset[str] = frozenset()

    @classmethod
    def of(cls, fingerprints: Iterable[str] = (), certificates: Iterable[Certificate] = ()) -> Pins:
        return cls(frozenset({normalize_fingerprint(f) for f in fingerprints} | {fingerprint(c) for c in certificates}))

    def __bool__(self) -> bool:
        return bool(self.sha256)

    def __or__(self, other: Pins) -> Pins:
        return Pins(self.sha256 | other.sha256)

    def matches(self, certificate: Certificate | None) -> bool:
        return certificate is not None and fingerprint(certificate) in self.sha256
