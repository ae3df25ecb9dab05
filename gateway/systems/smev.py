"""The SMEV 3 client of the gateway, built from ``settings.smev`` with the embedded fallbacks.

- Key (ЭП-ОВ): ``smev.key_file`` when set; otherwise the gateway information system's key
  from the key registry (:class:`~gateway.core.keyring.KeyRing`, role ``operator``, organisation
  ``gateway``), which the demo PKI of ``gateway serve`` provides.
- Trust: ``smev.trusted_ca_files`` when set; otherwise the gateway's roots
  (``effective_pki_dir/ca.pem`` and its CRL) plus, in the embedded demo (emulators started by
  ``gateway serve``, SMEV on loopback), the SMEV emulator's CA read from its control endpoint
  ``/_emulator/smev/ca.pem``.  A real SMEV is never on loopback, so production always
  trusts files only.

:class:`LazyGosuslugiAdapter` is the transport's adapter for system ``epgu``: the client is
built on the first delivery (an async step, since the emulator's CA is fetched over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import httpx

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.gosuslugi.adapter import GosuslugiAdapter
from adapters.gosuslugi.client import SmevClient
from adapters.gosuslugi.messages import Trust
from gateway.core.keyring import KeyRing
from gateway.core.settings import Settings
from signing import load_certificates, load_crls, load_signer
from signing.certificates import Certificate, load_certificate
from signing.keys import Signer

log = logging.getLogger("gateway.epgu")

GATEWAY_ORG = "gateway"
GATEWAY_ROLE = "operator"
EMULATOR_CA_PATH = "/_emulator/smev/ca.pem"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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


def embedded_emulator(settings: Settings) -> str | None:
    """The SMEV emulator's origin when the embedded demo trusts it, else ``None``."""
    if settings.smev.trusted_ca_files or not settings.run_emulators:
        return None
    parts = urlsplit(settings.smev.endpoint())
    if parts.hostname not in LOOPBACK:
        return None
    return f"{parts.scheme}://{parts.netloc}"


async def _emulator_ca(origin: str) -> list[Certificate]:
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:
            resp = await http.get(origin + EMULATOR_CA_PATH)
    except httpx.HTTPError as exc:
        raise TransientError("smev_emulator_unreachable", "эмулятор СМЭВ недоступен: нельзя получить его УЦ") from exc
    if resp.status_code != 200:
        raise TransientError("smev_emulator_ca_missing", f"эмулятор СМЭВ не отдал сертификат УЦ (HTTP {resp.status_code})")
    return load_certificates(resp.content)


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
            log.warning("smev: trusting the SMEV emulator's CA from %s (embedded demo mode)", origin)
    pin = load_certificate(cfg.smev_certificate_file.read_bytes()) if cfg.smev_certificate_file else None
    return Trust(anchors, crls, pin)


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
