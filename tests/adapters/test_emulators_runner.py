"""``gateway emulators``: one process, the default ports of the adapters, EB publishing to the portal."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest

from adapters.base import Outgoing
from adapters.budget_portal import BudgetPortalClient
from adapters.config import DEFAULT_PORTS, BudgetPortalSettings, ElectronicBudgetSettings, SystemsSettings
from adapters.electronic_budget import ElectronicBudgetAdapter
from emulators import runner
from signing.test_pki import TestPKI
from tests.support.net import free_port

LINE = re.compile(r"^(smev|electronic_budget|budget_portal|navigator|eais) http://127\.0\.0\.1:(\d+)/\S*$")


def test_default_ports_agree_with_the_adapters_settings() -> None:
    assert runner.DEFAULT_PORTS == DEFAULT_PORTS
    systems = SystemsSettings()
    assert systems.emulator_ports() == runner.DEFAULT_PORTS
    assert urlsplit(systems.electronic_budget.base_url).path == "/eb/social-order/v1"
    from emulators.cli import SYSTEMS

    assert set(runner.REGISTRY) <= set(SYSTEMS) == set(runner.DEFAULT_PORTS)


@pytest.fixture
async def all_emulators(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[runner.Running]]:
    directory = tmp_path_factory.mktemp("pki")
    pki.write(directory, pkcs12=False)
    config = runner.RunConfig(
        ports={name: 0 for name in runner.REGISTRY}, trust=directory / "ca.pem", pki_dir=directory,
        eb_processing_delay_s=0.05, eb_publish_delay_s=0.05, navigator_certificates=1000,
    )  # fmt: skip
    running = await runner.start(config)
    yield running
    await runner.stop(running)


async def test_electronic_budget_publishes_to_the_portal_in_one_process(
    all_emulators: list[runner.Running], pki: TestPKI, outgoing: Callable[..., Outgoing]
) -> None:
    urls = {r.name: urlsplit(r.url) for r in all_emulators}
    assert set(urls) == set(runner.REGISTRY)
    eb_url = urls["electronic_budget"]
    eb = ElectronicBudgetAdapter(
        ElectronicBudgetSettings(base_url=f"http://{eb_url.netloc}{eb_url.path}"), signer_for=lambda o: pki.signer("finance")
    )
    portal = BudgetPortalClient(BudgetPortalSettings(base_url=f"http://{urls['budget_portal'].netloc}"))
    try:
        order = outgoing("social_order", "electronic_budget", submitter_role="finance_department")
        registration = (await eb.deliver(order)).external_id
        assert registration
        for _ in range(100):
            if (await eb.status(registration)).status == "published":
                break
            await asyncio.sleep(0.02)
        publication = await portal.confirm_published(registration)
        assert publication.document_number == order.payload["number"]
        assert publication.municipality == "livny"
    finally:
        await eb.close()
        await portal.close()


async def test_the_command_prints_one_line_per_system_and_stops_on_sigterm(tmp_path: object) -> None:
    ports = {name: free_port() for name in ("electronic_budget", "budget_portal", "navigator", "eais")}
    env = dict(os.environ, GATEWAY_DATA_DIR=str(tmp_path))
    env["GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL"] = f"http://127.0.0.1:{ports['electronic_budget']}/eb/social-order/v1"
    env["GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL"] = f"http://127.0.0.1:{ports['budget_portal']}"
    env["GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL"] = f"http://127.0.0.1:{ports['navigator']}"
    env["GATEWAY_SYSTEMS__EAIS__BASE_URL"] = f"http://127.0.0.1:{ports['eais']}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "emulators", "--certificates", "100",
        *(arg for name in ports for arg in ("--only", name)),  # SMEV's port is not in these settings yet
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip() for _ in range(len(ports))]
        printed = {m.group(1): int(m.group(2)) for m in map(LINE.match, lines) if m}
        assert printed == ports, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0
