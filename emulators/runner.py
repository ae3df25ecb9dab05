"""Runs the emulators in one process on their loopback ports (``gateway emulators``, demos, tests).

:data:`REGISTRY` maps each system's name to a builder of its aiohttp application; a new
emulator joins with one line there.  Each printed address serves its contract with
``?wsdl`` where the system is SOAP (SMEV 3 schema 1.3, Electronic Budget).  Builders share a ``shared`` dict, so the Electronic
Budget emulator publishes straight into the budget portal emulator's store when both run
here.  :data:`DEFAULT_PORTS` must equal the ports of the adapters' default settings
(``adapters.config.DEFAULT_PORTS``; a test checks it) — this package may not import the
adapters, so the numbers are written twice on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from emulators.budget_portal import emulator as budget_portal
from emulators.budget_portal.store import RegistryStore
from emulators.eais import emulator as eais
from emulators.electronic_budget import emulator as electronic_budget
from emulators.electronic_budget.state import StorePublisher
from emulators.navigator import emulator as navigator
from emulators.navigator.state import DEFAULT_CERTIFICATES, NavigatorState
from emulators.smev3 import app as smev3
from emulators.smev3 import protocol as smev3_protocol
from signing.certificates import Certificate, RevocationList, load_certificates, load_crls
from signing.keys import GostSigner, load_signer

log = logging.getLogger(__name__)

DEFAULT_PORTS: dict[str, int] = {
    "smev": 7500,
    "electronic_budget": 8092,
    "budget_portal": 8093,
    "navigator": 8094,
    "eais": 8095,
}


@dataclass
class RunConfig:
    """What the emulators need from outside: ports, the CA to trust, timing knobs."""

    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    host: str = "127.0.0.1"
    trust: Path | None = None  # CA certificates (PEM); ca.crl beside it is used as the CRL
    pki_dir: Path | None = None  # where `gateway pki init` wrote provider.key.pem (the Navigator signs as provider)
    key_password: str | None = None  # of the keys in pki_dir, when they are encrypted
    eb_processing_delay_s: float = 2.0
    eb_publish_delay_s: float = 2.0
    navigator_certificates: int = DEFAULT_CERTIFICATES
    notes: list[str] = field(default_factory=list)

    def trusted(self) -> tuple[list[Certificate], list[RevocationList]]:
        if self.trust is None or not self.trust.is_file():
            return [], []
        crl_file = self.trust.with_name("ca.crl")
        crls = load_crls(crl_file.read_bytes()) if crl_file.is_file() else []
        return load_certificates(self.trust.read_bytes()), crls

    def provider_signer(self) -> GostSigner | None:
        if self.pki_dir is None:
            return None
        key, cert = self.pki_dir / "provider.key.pem", self.pki_dir / "provider.pem"
        if not (key.is_file() and cert.is_file()):
            return None
        try:
            return load_signer(key, cert, self.key_password)
        except Exception as exc:  # an encrypted key without its password, a broken file
            self.notes.append(f"navigator: ключ исполнителя не загружен ({type(exc).__name__}), соглашения не подписываются")
            return None


@dataclass(frozen=True)
class Built:
    app: web.Application
    path: str  # what to print after http://host:port


Builder = Callable[[RunConfig, dict[str, Any]], Built]


def _store(shared: dict[str, Any]) -> RegistryStore:
    store: RegistryStore = shared.setdefault("budget_portal.store", RegistryStore())
    return store


def _electronic_budget(config: RunConfig, shared: dict[str, Any]) -> Built:
    trust, crl = config.trusted()
    app = electronic_budget.create_app(
        StorePublisher(_store(shared)), trust=trust, crl=crl,
        processing_delay_s=config.eb_processing_delay_s, publish_delay_s=config.eb_publish_delay_s,
    )  # fmt: skip
    return Built(app, electronic_budget.PATH)  # the WSDL is this address with ?wsdl


def _budget_portal(config: RunConfig, shared: dict[str, Any]) -> Built:
    return Built(budget_portal.create_app(_store(shared)), "/epbs/registry/socialorders/data")


def _navigator(config: RunConfig, shared: dict[str, Any]) -> Built:
    trust, crl = config.trusted()
    state = NavigatorState(certificates=config.navigator_certificates, provider_signer=config.provider_signer())
    return Built(navigator.create_app(state, trust=trust, crl=crl), "/api/v1/")


def _eais(config: RunConfig, shared: dict[str, Any]) -> Built:
    return Built(eais.create_app(), "/api/v1/packages")


def _smev(config: RunConfig, shared: dict[str, Any]) -> Built:
    trust, crl = config.trusted()
    return Built(smev3.create_app(trust=trust or None, crl=crl or None), smev3_protocol.PATHS["1.3"])


REGISTRY: dict[str, Builder] = {
    "smev": _smev,
    "electronic_budget": _electronic_budget,
    "budget_portal": _budget_portal,
    "navigator": _navigator,
    "eais": _eais,
}


class PortUnavailable(OSError):
    """An emulator cannot listen on its port: another process has it (or the address is not allowed).

    Whoever started the emulators must stop here: carrying on would send the gateway's
    requests, keys' signatures and data to whatever listens on that port.
    """

    def __init__(self, name: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, f"эмулятор {name}: не удалось занять {host}:{port} ({cause.strerror or cause})")
        self.name = name
        self.host = host
        self.port = port


@dataclass
class Running:
    name: str
    url: str
    runner: web.AppRunner
    app: web.Application


async def start(config: RunConfig, names: Sequence[str] | None = None) -> list[Running]:
    """Start the named emulators (default: all registered) on their ports; port 0 picks a free one.

    A port already taken raises :class:`PortUnavailable` (after stopping those started).
    """
    shared: dict[str, Any] = {}
    running: list[Running] = []
    try:
        for name in names or list(REGISTRY):
            built = REGISTRY[name](config, shared)
            runner = web.AppRunner(built.app, access_log=None)
            await runner.setup()
            wanted = config.ports.get(name, 0)
            site = web.TCPSite(runner, config.host, wanted)
            try:
                await site.start()
            except OSError as exc:
                await runner.cleanup()
                raise PortUnavailable(name, config.host, wanted, exc) from exc
            host, port = runner.addresses[0][:2]
            running.append(Running(name, f"http://{host}:{port}{built.path}", runner, built.app))
    except BaseException:
        await stop(running)
        raise
    return running


async def stop(running: Sequence[Running]) -> None:
    for r in reversed(running):
        await r.runner.cleanup()
