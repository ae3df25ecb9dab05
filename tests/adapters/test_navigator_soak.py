"""Soak: a 300,000-certificate registry synced with tracemalloc watching the peak (``-m soak``)."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from adapters.config import NavigatorSettings, RateLimitSettings
from adapters.navigator import NavigatorAdapter
from emulators.navigator.emulator import create_app
from emulators.navigator.state import NavigatorState

pytestmark = pytest.mark.soak


async def test_memory_stays_flat_over_300k_certificates(aiohttp_server: Any) -> None:
    server: TestServer = await aiohttp_server(create_app(NavigatorState(certificates=300_000)))
    adapter = NavigatorAdapter(NavigatorSettings(base_url=str(server.make_url("")),
                                                 rate_limit=RateLimitSettings(per_second=10_000, burst=100)))  # fmt: skip
    tracemalloc.start()
    try:
        seen = 0
        async for page in adapter.registry("certificates", page_size=1000):
            seen += len(page.items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await adapter.close()
    assert seen == 300_000
    # one page of 1,000 records is about 1-2 MB across emulator, wire and adapter; all of them would be ~300 MB
    assert peak < 40 * 1024 * 1024, peak
