"""``bench/e2e.py`` still goes the whole way: one round of the seven documents on the embedded default.

A few seconds: ``gateway serve`` as a subprocess on a fresh data directory, its emulators (their own process) on
free ports, seven documents through submit, the actions and delivery, then the raw ceiling.
Only correctness is checked (every document done, no error answer); speed is the script's
business, never asserted here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_e2e_smoke", BENCH / "e2e.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_one_round_goes_the_whole_way_on_the_embedded_default() -> None:
    e2e = _load()
    opts = e2e.Options(
        n=7, concurrency=2, submit="single", batch_size=100, lift_rate_limits=True, log_level="WARNING", stall_s=60.0, keep=False
    )
    result = await e2e.run_backend("embedded", 0, opts)
    e2e.print_result(result, opts)
    sys.stdout.flush()
    assert result.completed == 7, result.outcome
    assert not result.stats.errors
    assert not result.stuck and not result.status_left_sent
    assert set(result.phases) >= {"submit", "approve", "sign", "send", "wait delivered"}
    assert result.outcome["delivered to every system"] >= 6  # one may end before send by design (Kirovsky's order)
    assert result.ceiling_rate > 0 and not result.ceiling_stats.errors
    assert [name for name, _ in result.rss] == ["emulators", "serve"] and all(kb > 0 for _, kb in result.rss)
