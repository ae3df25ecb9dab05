"""``GET /metrics``: the figures move while a document goes submit → approve → sign → send → delivered
through the emulators; labels hold ids and codes only; the worker's own endpoint; the switch."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.app.http import create_app
from gateway.app.metrics import families_by_name, start_metrics_server, value
from gateway.context import Context
from gateway.core.settings import MetricsSettings
from tests.support.delivery_stack import Stack, delivered, stack_factory  # noqa: F401 - fixture
from tests.support.net import embedded_serve_env, free_port

Samples = dict[str, list[tuple[dict[str, str], float]]]
#: The only label names the gateway's own metrics may carry (no personal data can hide in these).
REPO = Path(__file__).resolve().parents[2]
ALLOWED_LABELS = {"municipality", "type", "status", "system", "outcome", "kind", "state", "part", "method", "route", "le"}


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def no_metrics_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_METRICS__CACHE_S", "0")  # every scrape reads the state afresh


async def scrape(stack: Stack) -> Samples:
    resp = await stack.api.client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return families_by_name(await resp.text())


async def test_metrics_move_along_the_way_of_a_document(stack_factory: Callable[..., Awaitable[Stack]]) -> None:  # noqa: F811 - fixture
    stack = await stack_factory()
    api = stack.api
    before = await scrape(stack)
    assert value(before.get("gateway_documents", []), municipality="luga", type="social_order") == 0
    assert value(before["gateway_circuit_state"], system="electronic_budget", state="not_started") == 1

    body = await api.token("luga", "administration", "authorized_body")
    status, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
    assert status == 202, accepted
    doc_id = accepted["id"]
    submitted = await scrape(stack)
    assert value(submitted["gateway_documents"], municipality="luga", type="social_order", status="submitted") == 1
    assert value(submitted["gateway_http_request_duration_seconds_count"], method="POST", route="/api/v1/documents",
                 status="202") == value(before.get("gateway_http_request_duration_seconds_count", []),
                                        method="POST", route="/api/v1/documents", status="202") + 1  # fmt: skip
    calls_before = value(before.get("gateway_adapter_request_duration_seconds_count", []), system="electronic_budget",
                         outcome="ok")  # fmt: skip

    assert (await api.act(body, doc_id, "approve"))[0] == 200
    status, doc = await api.act(body, doc_id, "sign")
    assert status == 200 and doc["status"] == "signed", doc
    status, doc = await api.act(body, doc_id, "send")
    assert status == 200, doc
    systems = {d["system"] for d in doc["deliveries"]}
    await stack.wait_document(body, doc_id, delivered)

    after = await scrape(stack)
    assert value(after["gateway_documents"], municipality="luga", type="social_order", status="submitted") == 0
    for system in systems:
        assert value(after["gateway_deliveries"], system=system, status="delivered") == 1
        assert value(after["gateway_adapter_request_duration_seconds_count"], system=system, outcome="ok") >= 1
        assert value(after["gateway_circuit_state"], system=system, state="closed") == 1
    assert value(after["gateway_adapter_request_duration_seconds_count"], system="electronic_budget", outcome="ok") > calls_before
    assert after["gateway_outbox_depth"] == [({}, 0.0)]
    assert {labels["system"] for labels, _ in after["gateway_queue_depth"]} >= systems
    assert {labels["system"] for labels, _ in after["gateway_dead_letters"]} >= systems
    assert value(after["gateway_dead_letters"]) == 0
    assert "gateway_journal_seal_lag_seconds" in after and "gateway_journal_unsealed_entries" in after
    assert "gateway_deadlines_overdue" in families_by_name_help(await (await api.client.get("/metrics")).text())
    assert "process_resident_memory_bytes" in after  # the process collector of prometheus_client
    assert "gateway_metrics_read_failed" not in after

    names = {name for labels_list in after.values() for labels, _ in labels_list for name in labels}
    assert names <= ALLOWED_LABELS | {"version", "implementation", "major", "minor", "patchlevel", "generation"}
    text = await (await api.client.get("/metrics")).text()
    assert doc_id not in text and doc["number"] not in text  # no document's id or number in any label
    exposed = families_by_name_help(text)
    for used in sorted(dashboard_metrics()):  # every figure the Grafana dashboard plots is served
        assert re.sub(r"_(bucket|count|sum|total)$", "", used) in exposed or used in exposed, used


def dashboard_metrics() -> set[str]:
    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return {m for e in exprs for m in re.findall(r"\b((?:gateway|process)_[a-z_]+)", e)}


def families_by_name_help(text: str) -> set[str]:
    """Metric families named by ``# HELP`` lines (a family may have no sample yet)."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}


async def test_the_worker_serves_its_own_metrics(stack_factory: Callable[..., Awaitable[Stack]]) -> None:  # noqa: F811 - fixture
    stack = await stack_factory(relay=False)
    port = free_port()
    runner = await start_metrics_server(stack.api.ctx, stack.transport, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    finally:
        await runner.cleanup()
    samples = families_by_name(text)
    assert {labels["system"] for labels, _ in samples["gateway_queue_depth"]} == set(stack.transport.config.systems)
    assert samples["gateway_outbox_depth"] == [({}, 0.0)]
    assert "gateway_circuit_state" in samples
    assert "gateway_documents" not in families_by_name_help(text)  # database-wide counts: the API process only


async def test_metrics_can_be_switched_off(
    ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]], tmp_path: Path
) -> None:
    ctx.settings.metrics = MetricsSettings(enabled=False)
    client = await aiohttp_client(create_app(ctx))
    resp = await client.get("/metrics")
    assert resp.status == 404
    assert (await resp.json(content_type=None))["code"] == "not_found"


def test_gateway_worker_metrics_port(tmp_path: Path) -> None:
    """``gateway worker --metrics-port`` as an operator starts it (embedded queue), with JSON logs."""
    env, _ = embedded_serve_env(tmp_path / "var")
    env.update({"GATEWAY_SYSTEMS__EMULATED": "true", "GATEWAY_LOG_FORMAT": "json"})
    port = free_port()
    argv = [str(REPO / ".venv" / "bin" / "gateway"), "worker", "--system", "navigator",
            "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not text:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    text = resp.read().decode()
            except OSError:
                time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "Метрики обработчика" in out
    samples = families_by_name(text)
    assert value(samples["gateway_queue_depth"], system="navigator") == 0
    assert "process_resident_memory_bytes" in samples
    for line in filter(None, err.splitlines()):
        assert isinstance(json.loads(line), dict), line  # GATEWAY_LOG_FORMAT=json: one object per line
