"""Shared fixtures for the SMEV adapter and emulator tests: a test PKI with SMEV and EPGU
keys, an emulator on a loopback port, and adapter clients for either schema version."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.gosuslugi import SmevClient, SmevConfig, Trust
from emulators.smev3 import SMEV, create_app
from emulators.smev3.protocol import PATHS
from emulators.smev3.service import Smev
from signing.keys import Signer
from signing.test_pki import PARTIES, Party, TestPKI, create_test_pki

EXTRA = (
    Party("smev", "СМЭВ (ЭП-СМЭВ)", {"CN": "СМЭВ 3 (тест)", "O": "Минцифры России (тест)", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"}),
    Party("epgu", "ЕПГУ (ЭП-ОВ)", {"CN": "ЕПГУ (тест)", "O": "Минцифры России (тест)", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"}),
)


@pytest.fixture(scope="session")
def smev_pki() -> TestPKI:
    return create_test_pki(parties=PARTIES + EXTRA)


@pytest.fixture(scope="session")
def stranger_pki() -> TestPKI:
    """A second CA nobody trusts."""
    return create_test_pki()


@dataclass
class Emulator:
    url: str
    app: web.Application

    @property
    def smev(self) -> Smev:
        return self.app[SMEV]

    def endpoint(self, version: str) -> str:
        return self.url + PATHS[version]


@pytest.fixture
async def emulator(smev_pki: TestPKI) -> AsyncIterator[Emulator]:
    app = create_app(trust=smev_pki.ca.certificate, crl=smev_pki.crl, smev_signer=smev_pki.signer("smev"),
                     epgu_signer=smev_pki.signer("epgu"), redelivery_s=0.3)  # fmt: skip
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Emulator(f"http://127.0.0.1:{server.port}", app)
    await server.close()


MakeClient = Callable[..., Awaitable[SmevClient]]


@pytest.fixture
async def make_client(emulator: Emulator, smev_pki: TestPKI) -> AsyncIterator[MakeClient]:
    clients: list[SmevClient] = []

    async def make(version: str = "1.3", signer: Signer | None = None, **config: Any) -> SmevClient:
        values: dict[str, Any] = {"url": emulator.endpoint(version), "schema_version": version, "timeout_s": 2.0,
                                  "connect_timeout_s": 1.0, "file_store_url": emulator.url + "/_emulator/fs",
                                  "poll_interval_s": 0.02, "poll_idle_max_s": 0.1, "poll_error_backoff_max_s": 0.2}  # fmt: skip
        cfg = SmevConfig(**{**values, **config})
        client = SmevClient(cfg, signer or smev_pki.signer("gateway"), Trust([smev_pki.ca.certificate], [smev_pki.crl]))
        clients.append(client)
        return await client.open()

    yield make
    for c in clients:
        await c.close()
