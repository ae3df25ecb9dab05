"""The SMEV 3 client of the gateway, built from ``settings.smev`` with the embedded fallbacks.

- Key (ЭП-ОВ): ``smev.key_file`` when set; otherwise the gateway information system's key
  from the key registry (:class:`~gateway.core.keyring.KeyRing`, role ``operator``, organisation
  ``gateway``), which the demo PKI of ``gateway serve`` provides.
- Trust: ``smev.trusted_ca_files`` when set; otherwise the gateway's roots
  (``effective_pki_dir/ca.pem`` and its CRL) plus, when SMEV is an emulator (see
  :func:`emulator_origin`), the SMEV emulator's CA read from ``/_emulator/smev/ca.pem``.
- Pins: a chain to a trusted CA proves only that *some* participant signed, so SMEV's
  signature must also come from a pinned certificate, and a sender's from the pinned
  certificate of the information system SMEV's routing names (EPGU for applications).
  From the settings (``GATEWAY_SMEV__SMEV_CERTIFICATE_SHA256`` / ``…_FILE``,
  ``GATEWAY_SMEV__EPGU__…``); else, for an emulator, from the emulator's
  ``/_emulator/smev/pins``; else from ``smev.pem`` / ``epgu.pem`` in the PKI directory
  (beside ``ca.pem``).  Without a pin nothing from SMEV is accepted, and
  :func:`startup_problems` keeps ``gateway serve`` and the worker from starting.

:class:`LazyGosuslugiAdapter` is the transport's adapter for system ``epgu``: the client is
built on the first delivery (an async step, since the emulator's CA is fetched over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.config import LOOPBACK, StartupProblem, emulator_defaults
from adapters.gosuslugi.adapter import GosuslugiAdapter
from adapters.gosuslugi.client import SmevClient
from adapters.gosuslugi.messages import Trust
from adapters.gosuslugi.pins import Pins, fingerprints_of_files, normalize_fingerprint
from gateway.core.keyring import KeyRing
from gateway.core.settings import Settings
from signing import load_certificates, load_crls, load_signer
from signing.backend import INSTALL_HINT, PYTHON, Backend, BackendUnavailable, get_backend
from signing.certificates import Certificate
from signing.keys import Signer

log = logging.getLogger("gateway.epgu")

GATEWAY_ORG = "gateway"
GATEWAY_ROLE = "operator"
EMULATOR_CA_PATH = "/_emulator/smev/ca.pem"
EMULATOR_PINS_PATH = "/_emulator/smev/pins"
SMEV_PIN_FILE = "smev.pem"  # in the PKI directory, when the settings name no pin


class SmevSetupError(PermanentError):
    """The SMEV client cannot be built from the settings (no key, unreadable files)."""


def _signer(settings: Settings, keys: KeyRing) -> Signer:
    cfg = settings.smev
    if cfg.key_file is not None:
        password = cfg.key_password.get_secret_value() if cfg.key_password else None
        return load_signer(cfg.key_file, cfg.certificate_file, password)
    signer = keys.signer_for("*", GATEWAY_ORG, GATEWAY_ROLE)
    if signer is None:
        raise SmevSetupError(
            "smev_key_missing",
            "не задан ключ ЭП-ОВ для СМЭВ: укажите GATEWAY_SMEV__KEY_FILE или ключ роли operator в реестре ключей",
        )
    return signer


def emulator_origin(settings: Settings) -> str | None:
    """The SMEV emulator's origin when the settings say SMEV is one, else ``None`` (a real SMEV).

    SMEV is an emulator in the embedded demo (``gateway serve`` starts it on loopback) and
    when ``GATEWAY_SYSTEMS__EMULATED`` declares every system an emulator run apart.
    """
    parts = urlsplit(settings.smev.endpoint())
    if settings.systems.emulated or (settings.run_emulators and parts.hostname in LOOPBACK):
        return f"{parts.scheme}://{parts.netloc}"
    return None


def embedded_emulator(settings: Settings) -> str | None:
    """The SMEV emulator's origin when the gateway trusts its CA (no CA files configured), else ``None``."""
    return None if settings.smev.trusted_ca_files else emulator_origin(settings)


@dataclass(frozen=True)
class SenderPins:
    """An information system allowed to send us requests: its mnemonics and its ЭП-ОВ pins."""

    mnemonics: tuple[str, ...]
    pins: Pins


@dataclass(frozen=True)
class SmevPins:
    smev: Pins
    senders: Mapping[str, SenderPins]  # by system name (``epgu``)

    def by_mnemonic(self) -> dict[str, Pins]:
        return {m: s.pins for s in self.senders.values() for m in s.mnemonics}


def _setting(name: str, field: str) -> str:
    return f"GATEWAY_SMEV__{name.upper()}__{field}"


def configured_pins(settings: Settings, *, pki_files: bool) -> SmevPins:
    """The pins the settings name; with ``pki_files``, ``smev.pem`` / ``<system>.pem`` of the PKI directory fill gaps.

    Reads files: raises OSError or ValueError for one that cannot be read.
    """
    cfg = settings.smev

    def from_pki(name: str) -> Pins:
        path = settings.effective_pki_dir / name
        return Pins(frozenset(fingerprints_of_files([path]))) if pki_files and path.is_file() else Pins()

    smev = cfg.configured_smev_pins() or from_pki(SMEV_PIN_FILE)
    senders = {
        name: SenderPins(tuple(sender.mnemonics), sender.configured_pins() or from_pki(f"{name}.pem"))
        for name, sender in cfg.senders().items()
    }
    return SmevPins(smev, senders)


async def _emulator_get(origin: str, path: str, what: str, missing: str) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:
            resp = await http.get(origin + path)
    except httpx.HTTPError as exc:
        raise TransientError("smev_emulator_unreachable", f"эмулятор СМЭВ недоступен: нельзя получить {what}") from exc
    if resp.status_code != 200:
        raise TransientError(missing, f"эмулятор СМЭВ не отдал {what} (HTTP {resp.status_code})")
    return resp


async def _emulator_ca(origin: str) -> list[Certificate]:
    return load_certificates((await _emulator_get(origin, EMULATOR_CA_PATH, "сертификат УЦ", "smev_emulator_ca_missing")).content)


async def _emulator_pins(origin: str) -> SmevPins:
    """What the SMEV emulator publishes for pinning (``/_emulator/smev/pins``)."""
    resp = await _emulator_get(origin, EMULATOR_PINS_PATH, "сертификаты для закрепления", "smev_emulator_pins_missing")
    try:
        body: dict[str, Any] = resp.json()
        smev = Pins(frozenset(normalize_fingerprint(f) for f in body["smev"]["sha256"]))
        senders = {
            str(name): SenderPins(tuple(str(m) for m in item["mnemonics"]),
                                  Pins(frozenset(normalize_fingerprint(f) for f in item["sha256"])))
            for name, item in body["senders"].items()
        }  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TransientError("smev_emulator_pins_malformed", "эмулятор СМЭВ отдал сертификаты для закрепления в неверном виде") from exc
    return SmevPins(smev, senders)


async def pins_for(settings: Settings) -> SmevPins:
    """The pins of this gateway: the settings', then the emulator's (for an emulator) or the PKI directory's."""
    origin = emulator_origin(settings)
    pins = await asyncio.to_thread(configured_pins, settings, pki_files=origin is None)
    if origin is None:
        return pins
    if pins.smev and all(s.pins and s.mnemonics for s in pins.senders.values()):
        return pins
    published = await _emulator_pins(origin)
    log.warning("smev: pinning the SMEV emulator's certificates from %s (emulated systems)", origin)
    senders = {}
    for name, own in pins.senders.items():
        theirs = published.senders.get(name, SenderPins((), Pins()))
        senders[name] = SenderPins(own.mnemonics or theirs.mnemonics, own.pins or theirs.pins)
    return SmevPins(pins.smev or published.smev, senders)


async def trust_for(settings: Settings, keys: KeyRing) -> Trust:
    cfg = settings.smev
    if cfg.trusted_ca_files:
        anchors = [c for p in cfg.trusted_ca_files for c in load_certificates(p.read_bytes())]
        crls = [c for p in cfg.crl_files for c in load_crls(p.read_bytes())]
    else:
        anchors, crls = list(keys.trusted), list(keys.crls)
        crls += [c for p in cfg.crl_files for c in load_crls(p.read_bytes())]
        origin = embedded_emulator(settings)
        if origin is not None:
            extra = await _emulator_ca(origin)
            anchors += [c for c in extra if all(c.der != a.der for a in anchors)]
            log.warning("smev: trusting the SMEV emulator's CA from %s (emulated systems)", origin)
    try:
        pins = await pins_for(settings)
    except (OSError, ValueError) as exc:
        raise SmevSetupError("smev_pin_unreadable", f"файл закреплённых сертификатов СМЭВ не прочитан: {type(exc).__name__}") from exc
    return Trust(anchors, crls, pins.smev, pins.by_mnemonic())


def smev_problems(settings: Settings) -> list[StartupProblem]:
    """What keeps the SMEV client from working safely: a missing or unreadable pin (reads the pin files).

    For an emulator the pins come from the emulator when the client is built, so nothing is missing here.
    """
    if emulator_origin(settings) is not None:
        return []
    try:
        pins = configured_pins(settings, pki_files=True)
    except (OSError, ValueError) as exc:
        return [StartupProblem("smev_pin_unreadable", "GATEWAY_SMEV__SMEV_CERTIFICATE_FILE",
                               f"СМЭВ: файл закреплённых сертификатов не прочитан ({type(exc).__name__}); проверьте "
                               f"файлы сертификатов СМЭВ и отправителей и {SMEV_PIN_FILE} в каталоге PKI")]  # fmt: skip
    problems: list[StartupProblem] = []
    if not pins.smev:
        problems.append(StartupProblem(
            "smev_pin_missing", "GATEWAY_SMEV__SMEV_CERTIFICATE_SHA256",
            "СМЭВ: не закреплён сертификат ЭП-СМЭВ, а подпись любого участника доверенного УЦ сошла бы за подпись СМЭВ; "
            f"укажите отпечатки SHA-256 (или файл GATEWAY_SMEV__SMEV_CERTIFICATE_FILE, или {SMEV_PIN_FILE} в каталоге PKI)",
        ))  # fmt: skip
    for name, sender in pins.senders.items():
        if not sender.mnemonics:
            problems.append(StartupProblem("smev_sender_mnemonic_missing", _setting(name, "MNEMONICS"),
                                           f"СМЭВ: не задана мнемоника ИС отправителя {name}, от которой принимаются запросы"))  # fmt: skip
        if not sender.pins:
            problems.append(StartupProblem(
                "smev_sender_pin_missing", _setting(name, "CERTIFICATE_SHA256"),
                f"СМЭВ: не закреплён сертификат ЭП-ОВ отправителя {name}: запросы от него не будут приняты; укажите отпечатки "
                f"SHA-256 (или файл {_setting(name, 'CERTIFICATE_FILE')}, или {name}.pem в каталоге PKI)",
            ))  # fmt: skip
    return problems


def signing_backend_problems(settings: Settings, backend: Backend | None = None) -> list[StartupProblem]:
    """Real systems with pure-Python GOST (about 1000 times slower) only when ``signing.allow_slow_backend`` says so."""
    try:
        b = backend or get_backend()
    except BackendUnavailable as exc:
        return [StartupProblem("gost_backend_unavailable", "GATEWAY_GOST_BACKEND", f"ГОСТ: {exc}")]
    if b.name != PYTHON or settings.signing.allow_slow_backend:
        return []
    return [StartupProblem(
        "slow_gost_backend", "GATEWAY_SIGNING__ALLOW_SLOW_BACKEND=true",
        "ГОСТ: подписи делал бы код на Python, примерно в 1000 раз медленнее OpenSSL (десятки подписей в секунду), "
        "так как нет ни провайдера, ни движка GOST для OpenSSL (или задан GATEWAY_GOST_BACKEND=python); установите "
        f"их ({INSTALL_HINT}; проверка: gateway signing info) или, если такая скорость допустима, разрешите медленный бэкенд",
    )]  # fmt: skip


def startup_problems(settings: Settings, *, smev: bool = True) -> list[StartupProblem]:
    """Why this process must not start: emulator defaults without emulators, and (``smev``) SMEV without pins.

    The emulators' addresses and secrets count only when this process runs no emulators and
    the systems are not declared emulated (``GATEWAY_SYSTEMS__EMULATED``).
    """
    production = not settings.run_emulators and not settings.systems.emulated
    problems = emulator_defaults(settings.systems) if production else []
    problems += signing_backend_problems(settings) if production else []
    if smev:
        problems += (settings.smev.emulator_defaults() if production else []) + smev_problems(settings)
    return problems


class StartupRefused(Exception):
    """The process must not start; ``problems`` say what to set (Russian, with the variable and a code)."""

    def __init__(self, problems: list[StartupProblem]) -> None:
        super().__init__("; ".join(p.code for p in problems))
        self.problems = problems

    def render(self) -> str:
        lines = ["Шлюз не запущен: исправьте настройки или освободите порт (startup_refused)"]
        return "\n".join(lines + [f"  - {p}" for p in self.problems])


def check_startup(settings: Settings, *, smev: bool = True) -> None:
    """Raise :class:`StartupRefused` when :func:`startup_problems` finds any."""
    problems = startup_problems(settings, smev=smev)
    if problems:
        raise StartupRefused(problems)


async def build_client(settings: Settings, keys: KeyRing) -> SmevClient:
    """The SMEV client of this gateway (opened); raises :class:`SmevSetupError` or ``TransientError``."""
    try:
        signer = await asyncio.to_thread(_signer, settings, keys)
    except (OSError, ValueError) as exc:
        raise SmevSetupError("smev_key_unreadable", f"ключ ЭП-ОВ для СМЭВ не загружен: {type(exc).__name__}") from exc
    trust = await trust_for(settings, keys)
    return await SmevClient(settings.smev, signer, trust).open()


class LazyGosuslugiAdapter(Adapter):
    """:class:`GosuslugiAdapter` whose SMEV client is built on the first delivery."""

    system = "gosuslugi"

    def __init__(self, settings: Settings, keys: KeyRing) -> None:
        self.settings = settings
        self.keys = keys
        self._inner: GosuslugiAdapter | None = None
        self._lock = asyncio.Lock()

    async def _adapter(self) -> GosuslugiAdapter:
        async with self._lock:
            if self._inner is None:
                problems = await asyncio.to_thread(smev_problems, self.settings)
                if problems:
                    raise SmevSetupError(problems[0].code, f"{problems[0].detail}: задайте {problems[0].setting}")
                self._inner = GosuslugiAdapter(await build_client(self.settings, self.keys))
            return self._inner

    async def client(self) -> SmevClient:
        """The one SMEV client of the process (the EPGU poller reads with it too)."""
        return (await self._adapter()).client

    async def deliver(self, outgoing: Outgoing) -> Outcome:
        return await (await self._adapter()).deliver(outgoing)

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
