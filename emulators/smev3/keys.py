"""The emulator's own keys: ЭП-СМЭВ (what SMEV signs with) and EPGU's ЭП-ОВ.

Real SMEV and EPGU hold certificates of a qualified CA the participants trust.  Unless
tests hand in their own signers, the emulator makes a small CA at start-up ("Тестовый УЦ
СМЭВ (эмулятор)"), issues both certificates from it, and offers the CA certificate at
``GET /_emulator/smev/ca.pem`` (and ``--write-ca FILE``) so the gateway can trust it.
Nothing is written unless asked; the keys live in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from signing.backend import get_backend
from signing.certificates import Certificate
from signing.keys import GostSigner, Signer
from signing.test_pki import issue_certificate


@dataclass(frozen=True)
class Identity:
    smev: Signer
    epgu: Signer
    ca: Certificate | None = None  # the CA both chain to, when the emulator made them


def generate_identity() -> Identity:
    b = get_backend()
    now = datetime.now(UTC).replace(microsecond=0)
    ca_key = b.generate(32, "A")
    # Subjects carry INNLE/OGRN like the test PKI's: with some subject lengths
    # signing.test_pki.issue_certificate fails intermittently (asn1crypto re-encoding, KeyError).
    ca_subject = {"CN": "Тестовый УЦ СМЭВ (эмулятор)", "O": "Эмулятор СМЭВ 3", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"}
    ca_cert = issue_certificate(None, ca_key, ca_subject,
                                not_before=now - timedelta(days=1), not_after=now + timedelta(days=3650), ca=True)  # fmt: skip
    ca = GostSigner(ca_key, ca_cert, backend=b)

    def issue(cn: str) -> GostSigner:
        key = b.generate(32, "A")
        cert = issue_certificate(ca, key, {"CN": cn, "O": "Эмулятор СМЭВ 3", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"},
                                 not_before=now - timedelta(days=1), not_after=now + timedelta(days=365))  # fmt: skip
        return GostSigner(key, cert, [ca_cert], backend=b)

    return Identity(issue("СМЭВ 3 (эмулятор): ЭП-СМЭВ"), issue("ЕПГУ (эмулятор): ЭП-ОВ"), ca_cert)
