"""Recipients' register sync of 1,000,000 certificates: time and peak memory, with a same-run baseline.

Usage (from the repository root)::

    .venv/bin/python bench/sync.py [--certificates 1000000] [--database-url URL] [--eais 20000]

The Navigator emulator runs in its own process and generates the register lazily
(``--certificates N``).  Then, each in a fresh process so that its peak RSS is its own:

1. baseline — a raw paged HTTP read of the same register (aiohttp + ``json.loads``, the
   same page size), nothing else;
2. the sync — ``RegisterSync`` of every municipality from an empty gateway (SQLite file by
   default): every page decided against the gateway's rows and written with its cursor;
   EAIS DO pushes deferred (``push_eais=False``: the rows stay pending);
3. a full reconciliation of the same register against the now full gateway (with the sweep);
4. with ``--eais N``: the EAIS DO leg alone for the first N pending rows (the EAIS emulator
   validates every object against its JSON Schema, which bounds this figure).

Prints ``sync time: N s`` and ``peak memory: N MB`` (of the syncing process) first, then the
other figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- child processes
async def _serve_emulators(navigator_port: int, eais_port: int, certificates: int) -> None:
    from emulators import runner

    config = runner.RunConfig(ports={"navigator": navigator_port, "eais": eais_port}, navigator_certificates=certificates)
    await runner.start(config, ["navigator", "eais"])
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _baseline(url: str, page_size: int) -> dict[str, float]:
    import aiohttp

    started = time.perf_counter()
    records = 0
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/auth/token",
                                json={"client_id": "gateway", "client_secret": "navigator-emulator-secret"}) as r:  # fmt: skip
            token = (await r.json())["data"]["access_token"]
        cursor = None
        while True:
            params = {"limit": str(page_size), **({"cursor": cursor} if cursor else {})}
            async with session.get(f"{url}/api/v1/registries/certificates", params=params,
                                   headers={"Authorization": f"Bearer {token}"}) as r:  # fmt: skip
                data = json.loads(await r.read())["data"]
            records += len(data["items"])
            cursor = data["next_cursor"]
            if not data["has_more"]:
                break
    return {"seconds": time.perf_counter() - started, "records": records, "peak_mb": _peak_mb()}


async def _sync(data_dir: str, database_url: str | None, nav: str, eais: str, mode: str, limit: int) -> dict[str, object]:
    from gateway.context import Context
    from gateway.core.settings import Settings
    from gateway.features.registry_sync.sync import RegisterSync

    systems = {"navigator": {"base_url": nav}, "eais": {"base_url": eais}}
    settings = Settings(data_dir=Path(data_dir), database_url=database_url, systems=systems)
    ctx = await Context.open(settings)
    sync = RegisterSync(ctx)
    try:
        municipalities = sorted(ctx.profiles)
        started = time.perf_counter()
        if mode == "eais":
            sync.settings = sync.settings.model_copy(update={"push_batch": 1000})
            run_id = await sync.start(municipalities, push_navigator=False)
            run = sync._runs[run_id]
            pushed = await _eais_leg(sync, run, limit)
            await sync._finish(run)
            return {"seconds": time.perf_counter() - started, "records": pushed, "peak_mb": _peak_mb()}
        progress = await sync.run(municipalities, full=mode == "full", push_eais=False)
        return {"seconds": time.perf_counter() - started, "records": progress.processed, "peak_mb": _peak_mb(),
                "status": progress.status, "counts": progress.counts}  # fmt: skip
    finally:
        await sync.close()
        await ctx.close()


async def _eais_leg(sync: object, run: object, limit: int) -> int:
    """Push the first ``limit`` EAIS-pending rows through the engine's own push path."""
    import sqlalchemy as sa

    from gateway.features.registry_sync.register import ENTRY_COLUMNS, held_of
    from gateway.store.tables import certificate_register as reg

    pushed = 0
    ctx = sync.ctx  # type: ignore[attr-defined]
    last = ""
    while pushed < limit:
        async with ctx.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(*ENTRY_COLUMNS).where(reg.c.eais_pending == sa.true(), reg.c.number > last)
                    .order_by(reg.c.number).limit(min(1000, limit - pushed))
                )
            ).mappings().all()  # fmt: skip
        if not rows:
            break
        last = rows[-1]["number"]
        await sync.pusher.push(run, [(r["municipality"], held_of(r).entry, int(r["eais_ts"])) for r in rows], [])  # type: ignore[attr-defined]
        pushed += len(rows)
    return pushed


def _child(args: argparse.Namespace) -> int:
    if args.child == "emulators":
        asyncio.run(_serve_emulators(args.navigator_port, args.eais_port, args.certificates))
        return 0
    if args.child == "baseline":
        result = asyncio.run(_baseline(args.navigator, args.page_size))
    else:
        result = asyncio.run(_sync(args.data_dir, args.database_url, args.navigator, args.eais, args.child, args.limit))
    print(json.dumps(result), flush=True)
    return 0


def _run_child(*extra: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *extra], check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary directory")
    parser.add_argument("--eais", type=int, default=0, metavar="N", help="also push N rows to the EAIS DO emulator")
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--child", choices=["emulators", "baseline", "incremental", "full", "eais"], help=argparse.SUPPRESS)
    parser.add_argument("--navigator", help=argparse.SUPPRESS)
    parser.add_argument("--eais-url", dest="eais_url", help=argparse.SUPPRESS)
    parser.add_argument("--navigator-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--eais-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.eais = args.eais_url
        return _child(args)

    nav_port, eais_port = _free_port(), _free_port()
    emulators = subprocess.Popen(
        [sys.executable, __file__, "--child", "emulators", "--navigator-port", str(nav_port), "--eais-port", str(eais_port),
         "--certificates", str(args.certificates)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert emulators.stdout is not None
        if emulators.stdout.readline().strip() != "ready":
            print("emulators did not start", file=sys.stderr)
            return 1
        nav, eais = f"http://127.0.0.1:{nav_port}", f"http://127.0.0.1:{eais_port}"
        common = ["--navigator", nav, "--eais-url", eais, "--page-size", str(args.page_size)]
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
            db = ["--database-url", args.database_url] if args.database_url else []
            base = _run_child("--child", "baseline", *common)
            sync = _run_child("--child", "incremental", "--data-dir", tmp, *db, *common)
            full = _run_child("--child", "full", "--data-dir", tmp, *db, *common)
            eais_leg = _run_child("--child", "eais", "--data-dir", tmp, "--limit", str(args.eais), *db, *common) \
                if args.eais else None  # fmt: skip
    finally:
        emulators.terminate()
        emulators.wait(10)
    n = args.certificates
    print(f"sync time: {sync['seconds']:.1f} s")
    print(f"peak memory: {sync['peak_mb']:.0f} MB")
    print(f"records: {sync['records']} ({sync.get('status')}; added {sync['counts']['added']})")  # type: ignore[index]
    print(f"sync rate: {n / float(sync['seconds']):.0f} records/s")  # type: ignore[arg-type]
    print(f"baseline raw paged read: {base['seconds']:.1f} s, peak memory {base['peak_mb']:.0f} MB")
    print(f"sync time / baseline: {float(sync['seconds']) / float(base['seconds']):.2f}")  # type: ignore[arg-type]
    print(f"full reconciliation time: {full['seconds']:.1f} s, peak memory {full['peak_mb']:.0f} MB "
          f"(unchanged {full['counts']['unchanged']})")  # type: ignore[index]  # fmt: skip
    if eais_leg is not None:
        rate = float(eais_leg["records"]) / float(eais_leg["seconds"])  # type: ignore[arg-type]
        print(f"eais push: {eais_leg['records']} records in {eais_leg['seconds']:.1f} s ({rate:.0f} records/s, "
              f"1,000,000 would take about {1_000_000 / rate:.0f} s at this rate)")  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GATEWAY_LOG_LEVEL", "WARNING")
    sys.exit(main())
