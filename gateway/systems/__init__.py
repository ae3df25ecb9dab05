"""The external systems the gateway talks to, one :class:`SystemSpec` each, and their adapters.

A system has several names: the one municipality profiles route to (``eais_do``), the key
of its settings (``GATEWAY_SYSTEMS__EAIS__…``) and the name of its emulator (``eais``).
The public contract fixes all three, so they are kept, and this module is the one place
that says which belong together; the profile's ``System`` enum, the transport, the
emulators started by ``gateway serve`` and the OpenAPI document read them from here.

:class:`SystemAdapters` holds one adapter per system for a process (one circuit breaker and
one rate limit each), built on first use: the transport's consumers, the pollers, the
registry sync and ``/readyz`` all share them.

This package sits below the context rather than in ``gateway.delivery`` (where the layout
first put it) because the context owns the adapters and the municipality profiles read
the system names, and both are below delivery.

Adding a system: ``adapters/<sys>/`` (its protocol client, an :class:`~adapters.base.Adapter`
if documents are delivered to it), ``emulators/<sys>/``, its settings in
``adapters.config.SystemsSettings``, and one :class:`SystemSpec` in :data:`SYSTEMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.base import Adapter, Outgoing
from gateway.core.keyring import KeyRing
from gateway.core.settings import Settings

AdapterFactory = Callable[[Settings, KeyRing], Any]


@dataclass(frozen=True)
class SystemSpec:
    """One external system.

    ``name`` is the system's id in municipality profiles (routing, legal names) and the
    queue; ``None`` for a system that is only read (budget.gov.ru).  ``settings_key`` is its
    field in ``settings.systems`` (or ``smev`` for the SMEV client); ``emulator`` the name of
    its emulator in ``emulators.runner``.
    """

    key: str
    name: str | None
    settings_key: str
    emulator: str
    factory: AdapterFactory


def _electronic_budget(settings: Settings, keys: KeyRing) -> Adapter:
    from adapters.electronic_budget import ElectronicBudgetAdapter

    def signer_for(outgoing: Outgoing) -> Any:
        org = outgoing.metadata.get("submitter_org")
        role = outgoing.metadata.get("submitter_role", "*")
        return keys.signer_for(outgoing.municipality, org, role) if org else None

    return ElectronicBudgetAdapter(settings.systems.electronic_budget, signer_for=signer_for)


def _navigator(settings: Settings, keys: KeyRing) -> Adapter:
    from adapters.navigator import NavigatorAdapter

    return NavigatorAdapter(settings.systems.navigator)


def _eais(settings: Settings, keys: KeyRing) -> Adapter:
    from adapters.eais import EaisAdapter

    return EaisAdapter(settings.systems.eais)


def _epgu(settings: Settings, keys: KeyRing) -> Adapter:
    from gateway.systems.smev import LazyGosuslugiAdapter

    return LazyGosuslugiAdapter(settings, keys)


def _budget_portal(settings: Settings, keys: KeyRing) -> Any:
    from adapters.budget_portal import BudgetPortalClient

    return BudgetPortalClient(settings.systems.budget_portal)


SYSTEMS: tuple[SystemSpec, ...] = (
    SystemSpec("electronic_budget", "electronic_budget", "electronic_budget", "electronic_budget", _electronic_budget),
    SystemSpec("epgu", "epgu", "smev", "smev", _epgu),
    SystemSpec("navigator", "navigator", "navigator", "navigator", _navigator),
    SystemSpec("eais_do", "eais_do", "eais", "eais", _eais),
    SystemSpec("budget_portal", None, "budget_portal", "budget_portal", _budget_portal),
)  # fmt: skip

BY_KEY: dict[str, SystemSpec] = {s.key: s for s in SYSTEMS}
#: The systems documents are delivered to, by their profile name (routing, queues).
DELIVERY_SYSTEMS: tuple[str, ...] = tuple(s.name for s in SYSTEMS if s.name is not None)


def emulator_ports(settings: Settings) -> dict[str, int]:
    """The port each emulator must listen on for the settings to reach it."""
    from urllib.parse import urlsplit

    from adapters.config import DEFAULT_PORTS

    ports = {}
    for spec in SYSTEMS:
        if spec.settings_key == "smev":
            # The SMEV emulator listens where GATEWAY_SMEV__URL points when that is on loopback.
            url = urlsplit(settings.smev.endpoint())
            local = url.hostname in {"127.0.0.1", "localhost"} and url.port
            ports[spec.emulator] = url.port if local and url.port else DEFAULT_PORTS["smev"]
        else:
            ports[spec.emulator] = getattr(settings.systems, spec.settings_key).port
    return ports


A = TypeVar("A")


class SystemAdapters:
    """One client per system for the whole process, built on first use and closed once."""

    def __init__(self, settings: Settings, keys: KeyRing, specs: tuple[SystemSpec, ...] = SYSTEMS) -> None:
        self.settings = settings
        self.keys = keys
        self.specs = {s.key: s for s in specs}
        self._built: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        """The client of system ``key`` (its :class:`SystemSpec` key), built on the first call."""
        client = self._built.get(key)
        if client is None:
            client = self._built[key] = self.specs[key].factory(self.settings, self.keys)
        return client

    def typed(self, key: str, cls: type[A]) -> A:
        """The client of ``key``, checked to be a ``cls`` (for callers that use its own methods)."""
        client = self.get(key)
        if not isinstance(client, cls):
            raise TypeError(f"system {key} has a {type(client).__name__}, not a {cls.__name__}")
        return client

    def adapter(self, name: str) -> Adapter:
        """The delivering adapter of the system that profiles call ``name``."""
        return self.typed(name, Adapter)  # type: ignore[type-abstract]  # mypy refuses an ABC for type[A]; isinstance is fine

    def breaker_states(self) -> dict[str, str]:
        """Each system's circuit state; ``not_started`` for a client not built yet."""
        out: dict[str, str] = {}
        for key in self.specs:
            client = self._built.get(key)
            state = getattr(client, "state", None) if client is not None else None
            out[key] = str(state()) if callable(state) else "not_started"
        return out

    async def close(self) -> None:
        built, self._built = self._built, {}
        for client in built.values():
            await client.close()
