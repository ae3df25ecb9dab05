"""EPGU intake throughput: applications through SMEV 3 against the same documents submitted directly.

Run: ``.venv/bin/python bench/epgu.py [--applications N]`` (SQLite, embedded queue, the SMEV
emulator in-process on a loopback port; a throw-away test PKI).  Prints one figure per line:

* baseline: the same D5 payloads through ``DocumentService.submit`` only (rules, document,
  journal — what the API does), one after another;
* epgu intake: ``GetRequest`` → both signatures verified → mapping → the same submit with
  the inbox key, the origin and the ``accepted`` status in its transaction → ``Ack``;
* epgu end to end: until every ``accepted`` status is at EPGU (relay → consumer →
  ``SendResponse`` signed and its receipt verified) — the figure a citizen sees.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.gosuslugi import mapping  # noqa: E402
from emulators.smev3 import SMEV, create_app  # noqa: E402
from gateway.app.features import build_service, build_transport  # noqa: E402
from gateway.context import Context  # noqa: E402
from gateway.core.settings import Settings  # noqa: E402
from gateway.features.epgu import poller  # noqa: E402
from gateway.features.epgu.cli import sample_applications  # noqa: E402
from gateway.features.epgu.intake import epgu_actor  # noqa: E402
from gateway.store.tables import epgu_applications  # noqa: E402
from gateway.workflow.feature import Runtime  # noqa: E402
from gateway.workflow.service import DocumentService, Submission  # noqa: E402
from signing.test_pki import PARTIES, Party, create_test_pki  # noqa: E402

EXTRA = (
    Party("smev", "СМЭВ", {"CN": "СМЭВ 3 (бенч)", "O": "Бенч", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"}),
    Party("epgu", "ЕПГУ", {"CN": "ЕПГУ (бенч)", "O": "Бенч", "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"}),
)


def settings_for(base: Path, url: str) -> Settings:
    return Settings(
        data_dir=base, run_emulators=False, log_level="WARNING",
        smev={"url": url, "poll_interval_s": 0.01, "poll_idle_max_s": 0.05},
        queue={"poll_interval_s": 0.02, "base_delay_s": 0.2, "max_delay_s": 1.0},
    )  # fmt: skip


async def main(n: int) -> None:
    pki = create_test_pki(parties=PARTIES + EXTRA)
    emulator = create_app(trust=pki.ca.certificate, crl=pki.crl, smev_signer=pki.signer("smev"), epgu_signer=pki.signer("epgu"))
    runner = web.AppRunner(emulator, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    smev = emulator[SMEV]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        password = secrets.token_urlsafe(12)
        pki.write(base / "pki", password, pkcs12=False)
        (base / "pki" / ".pw").write_text(password)
        (base / "keys.yaml").write_text(yaml.safe_dump({"keys": [
            {"role": "operator", "key": "pki/gateway.key.pem", "certificate": "pki/gateway.pem", "password_file": "pki/.pw"}]}))  # fmt: skip
        settings = settings_for(base, f"http://127.0.0.1:{port}/transport_1_0_2/")
        ctx = await Context.open(settings)
        profile = ctx.profiles["luga"]

        # baseline: the D5 payloads the emulator would send, submitted directly
        apps = sample_applications(profile, n)
        service = DocumentService(ctx)
        from emulators.smev3 import epgu as epgu_emulator

        payloads = [mapping.parse_application(epgu_emulator.application_xml(epgu_emulator.generate(smev.epgu.rng, a))).payload
                    for a in apps]  # fmt: skip
        started = time.perf_counter()
        for p in payloads:
            await service.submit(epgu_actor("luga"), Submission("consumer_application", "luga", {**p, "number": "b" + p["number"]}))
        baseline = n / (time.perf_counter() - started)
        print(f"baseline submit (no SMEV): {baseline:.0f} applications/s", flush=True)

        smev.inject("1.3", apps, n)
        transport = build_transport(ctx)
        await transport.start(consumers=True, relay=True)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(poller.run(Runtime(ctx, build_service(ctx, transport), transport), stop))
        intake_s = None
        while len(smev.epgu.statuses) < n:
            if intake_s is None and not list(smev.queues.pending()):
                intake_s = time.perf_counter() - started
            await asyncio.sleep(0.005)
        total_s = time.perf_counter() - started
        intake_s = intake_s or total_s
        stop.set()
        await task
        await transport.stop()
        import sqlalchemy as sa

        async with ctx.db.read() as conn:
            done = (await conn.execute(sa.select(sa.func.count()).select_from(epgu_applications))).scalar_one()
        await ctx.close()
        assert done == n and smev.epgu.describe()["duplicates"] == 0
        print(f"epgu intake (poll, verify, D5 + inbox + status, ack): {n / intake_s:.0f} applications/s", flush=True)
        print(f"epgu intake ratio vs baseline: {n / intake_s / baseline:.2f}", flush=True)
        print(f"epgu end to end (until every status is at EPGU): {n / total_s:.0f} applications/s", flush=True)
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.applications))
