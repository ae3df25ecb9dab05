"""Server-side keys held in a PKCS#11 token: the signature is made on the token.

The key never leaves the token; the gateway hashes (Streebog, with its own backend) and
the token signs the digest with the mechanism of the TC26 PKCS#11 extensions:
``CKM_GOSTR3410`` (0x1201) for a 256-bit key, ``CKM_GOSTR3410_512`` (``0xD4321006``) for a
512-bit one.  The result is a :class:`~signing.keys.GostSigner` whose private key is a
:class:`TokenKey`, so XMLDSig, CMS and the key registry use it like a key from a file.

Byte order.  PKCS#11 v2.30 ("GOST R 34.10-2001 without hashing", after RFC 4490 §3.2 and
RFC 4491 §2.2.2) defines the signature as ``s || r'``, each half big-endian; 2012 keys are
taken to follow it (inferred: the TC26 extension documents were not at hand).  OpenSSL's
GOST engine, and this package, write the same layout, so :func:`gost_signature_from_token`
only checks and re-encodes it; it is a separate, tested function so that a token which
differed is one place to change.  The digest goes to the token as the backend computes it
(OpenSSL's byte order, which is what a token's own Streebog mechanism is expected to
return; not confirmed on a token).

Tested with SoftHSM2 and an ECDSA key (hence :class:`SignMechanism` as a parameter): the
module, the token, the login, key lookup, signing on the token, the refusals.  Not tested:
a GOST signature made on a token, and the GOST public-key comparison on a token; no
GOST-capable software token is packaged.

One token per :class:`Token`: the module is loaded once, the user logs in once (the login
holds for every session of the process), and each thread gets its own session.  PyKCS11
holds the GIL while the token works, so signatures on one token are made one at a time.
The PIN is never logged, kept only for the login call, and never part of an error message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signing.backend import Backend
from signing.certificates import Certificate, parse_certificate
from signing.errors import CodedError
from signing.gost_asn1 import parse_spki
from signing.keys import GostSigner, KeyFileError

__all__ = [
    "CKM_GOSTR3410",
    "CKM_GOSTR3410_512",
    "CKM_GOSTR3410_WITH_GOSTR3411_12_256",
    "CKM_GOSTR3410_WITH_GOSTR3411_12_512",
    "GOST_R3410_2012",
    "Pkcs11Error",
    "SignMechanism",
    "Token",
    "TokenKey",
    "gost_signature_from_token",
    "gost_signature_rs",
    "load_token_signer",
]

# PKCS#11 v2.30 and the TC26 vendor range (NSSCK_VENDOR_PKCS11_RU_TEAM = 0x80000000 | 0x54321000)
CK_VENDOR_PKCS11_RU_TEAM_TC26 = 0xD4321000
CKM_GOSTR3410 = 0x00001201
CKM_GOSTR3410_512 = CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x006
CKM_GOSTR3410_WITH_GOSTR3411_12_256 = CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x008
CKM_GOSTR3410_WITH_GOSTR3411_12_512 = CK_VENDOR_PKCS11_RU_TEAM_TC26 | 0x009

_CKO_CERTIFICATE = 0x1
_CKO_PUBLIC_KEY = 0x2
_CKO_PRIVATE_KEY = 0x3
_CKA_CLASS = 0x0
_CKA_VALUE = 0x11
_CKA_LABEL = 0x3
_CKA_ID = 0x102
_CKF_SIGN = 0x800
_CKR_MECHANISM_INVALID = 0x70
# CKR_PIN_INCORRECT, CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_PIN_EXPIRED, CKR_PIN_LOCKED
_PIN_REFUSED = {
    0xA0: ("pkcs11_pin_invalid", "неверный PIN-код токена «{}»"),
    0xA1: ("pkcs11_pin_invalid", "неверный PIN-код токена «{}»"),
    0xA2: ("pkcs11_pin_invalid", "неверный PIN-код токена «{}»"),
    0xA3: ("pkcs11_pin_expired", "срок действия PIN-кода токена «{}» истёк"),
    0xA4: ("pkcs11_pin_locked", "PIN-код токена «{}» заблокирован"),
}
_CKR_USER_ALREADY_LOGGED_IN = 0x100


class Pkcs11Error(CodedError, KeyFileError):
    """The token, its PIN, a key or a mechanism is not usable; ``code`` is stable, the message Russian."""


def gost_signature_rs(signature: bytes) -> tuple[int, int]:
    """``(r, s)`` of a signature in our layout (``s || r``, each half big-endian)."""
    half = len(signature) // 2
    if len(signature) not in (64, 128):
        raise ValueError(f"подпись ГОСТ должна быть 64 или 128 байт, получено {len(signature)}")
    return int.from_bytes(signature[half:], "big"), int.from_bytes(signature[:half], "big")


def gost_signature_from_token(raw: bytes, size: int) -> bytes:
    """A token's GOST R 34.10-2012 signature (PKCS#11: ``s || r'``, big-endian halves) in our layout.

    ``size`` is the key size in bytes (32 or 64).  Both layouts put ``s`` first, big-endian,
    so the bytes come back unchanged once their length and values are checked.
    """
    if len(raw) != 2 * size:
        raise Pkcs11Error(
            "pkcs11_signature_malformed", f"токен вернул подпись длиной {len(raw)} байт, ожидалось {2 * size}"
        )
    s, r = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    if r == 0 or s == 0:
        raise Pkcs11Error("pkcs11_signature_malformed", "токен вернул подпись с нулевым r или s")
    return s.to_bytes(size, "big") + r.to_bytes(size, "big")


def gost_public_key_matches(value: bytes, certificate: Certificate) -> bool:
    """Whether a token's GOST public key (``CKA_VALUE``: little-endian X || Y) is the certificate's."""
    return value == parse_spki(certificate.public_key_info).point_le


@dataclass(frozen=True)
class SignMechanism:
    """How the token signs a digest: the mechanism for a key size, and what its output means.

    ``public_key_matches`` compares the token's public key object (``CKA_VALUE``) with the
    certificate; ``None`` when that cannot be compared (then it is not checked).
    """

    name: str
    mechanism_for: Callable[[int], int]
    signature_from_token: Callable[[bytes, int], bytes]
    public_key_matches: Callable[[bytes, Certificate], bool] | None = None


GOST_R3410_2012 = SignMechanism(
    name="ГОСТ Р 34.10-2012",
    mechanism_for=lambda size: CKM_GOSTR3410 if size == 32 else CKM_GOSTR3410_512,
    signature_from_token=gost_signature_from_token,
    public_key_matches=gost_public_key_matches,
)


def _ckr(exc: Exception) -> int:
    value = getattr(exc, "value", -1)
    return value if isinstance(value, int) else -1


class Token:
    """One logged-in token of one PKCS#11 module; a session per thread."""

    def __init__(self, module: str | Path, token_label: str, pin: str | None) -> None:
        try:
            import PyKCS11
        except ImportError as exc:  # an optional dependency: pip install 'social-order-gateway[pkcs11]'
            raise Pkcs11Error("pkcs11_module_missing", "нет библиотеки PyKCS11 (пакет шлюза с [pkcs11])") from exc
        self._p11 = PyKCS11
        self.module = str(module)
        self.label = token_label
        if not Path(self.module).is_file():
            raise Pkcs11Error("pkcs11_module_missing", f"модуль PKCS#11 не найден: {self.module}")
        self._lib: Any = PyKCS11.PyKCS11Lib()
        try:
            self._lib.load(self.module)
        except PyKCS11.PyKCS11Error as exc:
            raise Pkcs11Error("pkcs11_module_missing", f"модуль PKCS#11 не загружен: {self.module}: {exc}") from exc
        self.slot = self._find_slot(token_label)
        if pin is None or pin == "":
            raise Pkcs11Error("pkcs11_pin_missing", f"не задан PIN-код токена «{token_label}»")
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[Any] = []
        first = self._open_session()
        try:
            first.login(pin)
        except PyKCS11.PyKCS11Error as exc:
            rv = _ckr(exc)
            # already logged in: another Token of this process holds the login (PKCS#11 logins are per process)
            if rv != _CKR_USER_ALREADY_LOGGED_IN:
                self.close()
                if rv in _PIN_REFUSED:
                    code, message = _PIN_REFUSED[rv]
                    raise Pkcs11Error(code, message.format(token_label)) from None
                raise Pkcs11Error("pkcs11_login_failed", f"вход на токен «{token_label}» не удался: {exc}") from None
        self._local.session = first

    def _find_slot(self, label: str) -> int:
        found: list[str] = []
        try:
            for slot in self._lib.getSlotList(tokenPresent=True):
                name = str(self._lib.getTokenInfo(slot).label).strip()
                if name == label:
                    return int(slot)
                found.append(name)
        except self._p11.PyKCS11Error as exc:
            raise Pkcs11Error("pkcs11_token_not_found", f"токены модуля {self.module} не прочитаны: {exc}") from exc
        present = ", ".join(f"«{n}»" for n in found) or "ни одного"
        raise Pkcs11Error("pkcs11_token_not_found", f"токен PKCS#11 «{label}» не найден (есть: {present})")

    def _open_session(self) -> Any:
        session = self._lib.openSession(self.slot)
        with self._lock:
            self._sessions.append(session)
        return session

    def session(self) -> Any:
        """This thread's session (opened on first use; the login is the process's)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._open_session()
        return session

    def find(self, object_class: int, label: str | None, key_id: bytes | None) -> list[Any]:
        template: list[tuple[int, Any]] = [(_CKA_CLASS, object_class)]
        if label is not None:
            template.append((_CKA_LABEL, label))
        if key_id is not None:
            template.append((_CKA_ID, key_id))
        return list(self.session().findObjects(template))

    def value(self, handle: Any, attribute: int = _CKA_VALUE) -> bytes:
        return bytes(self.session().getAttributeValue(handle, [attribute], True)[0])

    def supports_signing(self, mechanism: int) -> bool:
        info = self._p11.LowLevel.CK_MECHANISM_INFO()
        rv = self._lib.lib.C_GetMechanismInfo(self.slot, mechanism, info)
        if rv == _CKR_MECHANISM_INVALID:
            return False
        if rv != 0:
            raise Pkcs11Error("pkcs11_mechanism_unsupported", f"механизмы токена «{self.label}» не прочитаны: "
                              f"{self._p11.PyKCS11Error(rv)}")  # fmt: skip
        return bool(info.flags & _CKF_SIGN)

    def sign(self, key_label: str | None, key_id: bytes | None, mechanism: int, data: bytes) -> bytes:
        """Sign ``data`` with the private key on this thread's session (handles are looked up per session)."""
        cache: dict[tuple[str | None, bytes | None], Any] = self._local.__dict__.setdefault("keys", {})
        handle = cache.get((key_label, key_id))
        if handle is None:
            handle = cache[(key_label, key_id)] = _one_key(self, key_label, key_id)
        try:
            return bytes(self.session().sign(handle, data, self._p11.Mechanism(mechanism, None)))
        except self._p11.PyKCS11Error as exc:
            if _ckr(exc) == _CKR_MECHANISM_INVALID:
                raise Pkcs11Error("pkcs11_mechanism_unsupported",
                                  f"токен «{self.label}» не подписывает механизмом 0x{mechanism:08X}") from None  # fmt: skip
            raise Pkcs11Error("pkcs11_sign_failed", f"подпись на токене «{self.label}» не удалась: {exc}") from None

    def close(self) -> None:
        """Close every session (the login ends with the last one)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            try:
                session.closeSession()
            except self._p11.PyKCS11Error:
                pass
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Token({self.label!r}, module={self.module!r})"


def _describe(label: str | None, key_id: bytes | None) -> str:
    parts = ([f"метка «{label}»"] if label is not None else []) + ([f"id {key_id.hex()}"] if key_id is not None else [])
    return ", ".join(parts)


def _one_key(token: Token, label: str | None, key_id: bytes | None) -> Any:
    keys = token.find(_CKO_PRIVATE_KEY, label, key_id)
    if not keys:
        raise Pkcs11Error("pkcs11_key_not_found",
                          f"закрытый ключ ({_describe(label, key_id)}) на токене «{token.label}» не найден")  # fmt: skip
    if len(keys) > 1:
        raise Pkcs11Error("pkcs11_key_ambiguous", f"на токене «{token.label}» {len(keys)} закрытых ключа с "
                          f"{_describe(label, key_id)}: укажите и метку, и id")  # fmt: skip
    return keys[0]


class TokenKey:
    """A private key on a token, in the shape of the backends' keys (``sign_digest``)."""

    def __init__(
        self, token: Token, certificate: Certificate, *, label: str | None = None, key_id: bytes | None = None,
        mechanism: SignMechanism = GOST_R3410_2012,
    ) -> None:  # fmt: skip
        if label is None and key_id is None:
            raise Pkcs11Error("pkcs11_key_not_found", "ключ на токене не указан: нужна метка или id")
        self.token = token
        self.label = label
        self.key_id = key_id
        self.mechanism = mechanism
        self.size = certificate.key_size
        self._certificate = certificate
        self._ckm = mechanism.mechanism_for(self.size)
        _one_key(token, label, key_id)
        if not token.supports_signing(self._ckm):
            raise Pkcs11Error("pkcs11_mechanism_unsupported", f"токен «{token.label}» не поддерживает подпись "
                              f"{mechanism.name} (механизм PKCS#11 0x{self._ckm:08X})")  # fmt: skip
        if mechanism.public_key_matches is not None:
            for public in token.find(_CKO_PUBLIC_KEY, label, key_id):
                if not mechanism.public_key_matches(token.value(public), certificate):
                    raise Pkcs11Error("pkcs11_key_mismatch", f"ключ ({_describe(label, key_id)}) на токене "
                                      f"«{token.label}» не соответствует сертификату")  # fmt: skip

    def sign_digest(self, digest: bytes) -> bytes:
        raw = self.token.sign(self.label, self.key_id, self._ckm, digest)
        return self.mechanism.signature_from_token(raw, self.size)

    def public_key_info(self) -> bytes:
        return self._certificate.public_key_info

    def pkcs8(self) -> bytes:
        raise Pkcs11Error("pkcs11_key_not_extractable", "закрытый ключ не покидает токен")

    def __repr__(self) -> str:
        return f"TokenKey({self.token.label!r}, {_describe(self.label, self.key_id)!r})"


def token_certificate(token: Token, label: str | None, key_id: bytes | None) -> Certificate:
    """The certificate stored on the token beside the key (same id, else same label)."""
    by_id: list[tuple[str | None, bytes | None]] = [(None, key_id)] if key_id is not None else []
    for lab, kid in by_id + ([(label, None)] if label is not None else []):
        found = token.find(_CKO_CERTIFICATE, lab, kid)
        if found:
            return parse_certificate(token.value(found[0]))
    raise Pkcs11Error("pkcs11_certificate_not_found",
                      f"сертификат ключа ({_describe(label, key_id)}) на токене «{token.label}» не найден")  # fmt: skip


def load_token_signer(
    token: Token,
    *,
    label: str | None = None,
    key_id: bytes | None = None,
    certificate: Certificate | None = None,
    chain: Sequence[Certificate] = (),
    mechanism: SignMechanism = GOST_R3410_2012,
    backend: Backend | None = None,
) -> GostSigner:
    """A signer for a key on ``token`` found by label and/or id; the certificate from the token if not given."""
    cert = certificate if certificate is not None else token_certificate(token, label, key_id)
    key = TokenKey(token, cert, label=label, key_id=key_id, mechanism=mechanism)
    return GostSigner(key, cert, chain, backend, check_match=False)
