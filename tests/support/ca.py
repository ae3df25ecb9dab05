"""The CA emulator (CRL at a distribution point, OCSP) on a loopback port, for revocation tests.

:func:`ca_pki` makes a test PKI whose certificates name the emulator's URLs on a port
picked now; :func:`running_ca` serves that PKI's CA there (the port may be left
unserved to emulate an unreachable CA).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from emulators.ca.emulator import CRL_PATH, OCSP_PATH, CaState, create_app
from signing.test_pki import TestPKI, create_test_pki
from tests.support.net import free_port


@dataclass
class CaPKI:
    pki: TestPKI
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def crl_url(self) -> str:
        return self.base + CRL_PATH

    @property
    def ocsp_url(self) -> str:
        return self.base + OCSP_PATH


def ca_pki(*, ocsp: bool = True) -> CaPKI:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pki = create_test_pki(crl_url=base + CRL_PATH, ocsp_url=base + OCSP_PATH if ocsp else None)
    return CaPKI(pki, port)


@dataclass
class RunningCA:
    setup: CaPKI
    state: CaState

    async def control(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.request(method, self.setup.base + path, json=body)
            resp.raise_for_status()
            return resp.json()


@asynccontextmanager
async def running_ca(setup: CaPKI) -> AsyncIterator[RunningCA]:
    state = CaState(setup.pki.ca, setup.pki.ocsp)
    for serial, at in setup.pki.revoked.items():
        state.revoked[serial] = (at, None)
    runner = web.AppRunner(create_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", setup.port)
    await site.start()
    try:
        yield RunningCA(setup, state)
    finally:
        await runner.cleanup()
