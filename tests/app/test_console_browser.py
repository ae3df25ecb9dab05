"""The console in a real browser (Debian's Chromium driven by Playwright, headless) against a served
gateway with the embedded queue and the state-system emulators on loopback.

One gateway and one browser serve the whole module: the gateway runs in its own thread and
event loop (Playwright's sync API owns the test thread).  Scenarios: signing in, finding a
document, approving and sending it and seeing it delivered, replaying a dead letter, and
watching a registry sync's live progress.  With ``GATEWAY_CONSOLE_SCREENSHOTS=<dir>`` the
main pages are saved there as PNG (docs/screenshots/ holds a set made this way).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from emulators import runner as emulators
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.municipalities import Role
from gateway.workflow import tokens
from signing.test_pki import TestPKI
from tests.support.delivery_stack import SYSTEM_EMULATORS, settings_for
from tests.support.gateway import DEFAULT_NOW, install_pki
from tests.support.net import free_port

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
T = TypeVar("T")


def _chromium() -> Path | None:
    """The system Chromium, installed with apt when absent and the machine allows it."""
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        root = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
        if root is not None:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run([*root, "apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
                           env=env, capture_output=True, check=False, timeout=900)  # fmt: skip
    return CHROMIUM if CHROMIUM.exists() else None


@dataclass
class Served:
    """A gateway served on loopback from its own thread, and ways into it from the test thread."""

    url: str
    ctx: Context
    loop: asyncio.AbstractEventLoop
    emulator_urls: dict[str, str]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def token(self, org: str, role: str, inn: str | None = None) -> str:
        return self.run(tokens.issue(self.ctx, "luga", org, Role(role), inn=inn))

    def http(self, method: str, url: str, token: str | None = None, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url if url.startswith("http") else self.url + url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback only
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {url}: {exc.code} {exc.read()[:500]!r}") from None

    def control(self, name: str, path: str, body: Any, method: str = "POST") -> Any:
        parts = self.emulator_urls[name].split("/")
        return self.http(method, f"{parts[0]}//{parts[2]}/_emulator{path}", body=body)

    def example(self, doc_type: str) -> dict[str, Any]:
        return dict(self.http("GET", f"/api/v1/schemas/{doc_type}/example?municipality=luga"))

    def wait_document(self, token: str, doc_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            doc = self.http("GET", f"/api/v1/documents/{doc_id}", token)
            if done(doc):
                return dict(doc)
            if time.monotonic() > deadline:
                raise AssertionError(f"document not done in time: {doc['status']} {doc['deliveries']}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def served(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-gateway", daemon=True)
    thread.start()
    cleanups: list[Callable[[], Coroutine[Any, Any, None]]] = []

    async def start() -> Served:
        install_pki(pki, tmp / "var")
        config = emulators.RunConfig(ports={n: 0 for n in SYSTEM_EMULATORS}, trust=tmp / "var" / "pki" / "ca.pem",
                                     eb_processing_delay_s=0.2, eb_publish_delay_s=0.2, navigator_certificates=4000)  # fmt: skip
        running = await emulators.start(config, SYSTEM_EMULATORS)
        cleanups.append(lambda: emulators.stop(running))
        urls = {r.name: r.url for r in running}
        settings = settings_for(tmp, urls, None, None)
        settings.registry.page_size = 100  # many small pages: progress to watch
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        cleanups.append(ctx.close)
        transport = build_transport(ctx)
        await transport.start(consumers=True, relay=True)
        cleanups.append(transport.stop)
        runner = web.AppRunner(create_app(ctx, transport))
        await runner.setup()
        cleanups.append(runner.cleanup)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return Served(f"http://127.0.0.1:{port}", ctx, loop, urls)

    served = asyncio.run_coroutine_threadsafe(start(), loop).result(120)
    try:
        yield served
    finally:

        async def stop() -> None:
            for cleanup in reversed(cleanups):
                await cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed and could not be installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1180, "height": 760}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    directory = os.environ.get("GATEWAY_CONSOLE_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"))


def sign_in(page: Any, served: Served, token: str) -> None:
    page.goto(f"{served.url}/console/")
    assert page.url.endswith("/console/login")
    shot(page, "login")
    page.fill("#token", token)
    page.click("button:has-text('Войти')")
    page.wait_for_url("**/console/documents")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gw_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and token not in cookie["value"]


def test_sign_in_find_approve_send_and_see_it_delivered(served: Served, page: Any) -> None:
    provider = served.token("Пример", "provider", "7707083893")
    body = served.token("administration", "authorized_body")
    example = served.example("provider_registry_application")
    example["provider"]["inn"] = "7707083893"
    if example["provider"].get("ogrn") and len(example["provider"]["ogrn"]) != 13:
        del example["provider"]["ogrn"]
    accepted = served.http("POST", "/api/v1/documents", provider,
                           {"type": "provider_registry_application", "municipality": "luga", "payload": example})  # fmt: skip

    sign_in(page, served, body)
    page.fill("input[name=number]", example["number"])
    page.click("button:has-text('Найти')")
    page.wait_for_url("**number=*")
    shot(page, "documents")
    page.click(f"a[href$='/documents/{accepted['id']}']")
    assert page.inner_text("#doc-status") == "подан"
    page.click("button:has-text('Утвердить')")
    page.wait_for_url("**done=approve")
    assert page.inner_text("#doc-status") == "утверждён"
    page.click("button:has-text('Отправить')")
    page.wait_for_url("**done=send")
    served.wait_document(body, accepted["id"], lambda d: bool(d["deliveries"]) and
                         all(x["status"] == "delivered" for x in d["deliveries"]))  # fmt: skip
    page.reload()
    assert page.inner_text("tr.delivery") .count("доставлено") == 1
    assert "delivered" in page.inner_text("table.journal")
    assert page.locator("section.actions button:has-text('Отправить')").count() == 0  # not again once delivered
    shot(page, "document")
    link = f"a[href$='/documents/{accepted['id']}']"
    for query, found in (("system=navigator&delivery=delivered", 1), ("delivery=dead_lettered", 0),
                         ("from=2026-11-23&to=2026-11-23&type=provider_registry_application", 1), ("from=2026-11-24", 0),
                         ("status=delivered", 1), ("status=submitted", 0)):  # fmt: skip
        page.goto(f"{served.url}/console/documents?{query}")
        assert page.locator(link).count() == found, query

    page.click("button:has-text('Выйти')")
    page.wait_for_url("**/console/login")
    page.goto(f"{served.url}/console/documents")
    assert page.url.endswith("/console/login")


def test_an_operator_replays_a_dead_letter(served: Served, page: Any) -> None:
    body = served.token("administration", "authorized_body")
    operator = served.token("support_centre", "operator")
    # An agreement whose registry application the Navigator has never seen: refused for good.
    accepted = served.http("POST", "/api/v1/documents", body,
                           {"type": "cost_agreement", "municipality": "luga", "payload": served.example("cost_agreement")})  # fmt: skip
    doc_id = accepted["id"]
    served.http("POST", f"/api/v1/documents/{doc_id}/approve", body, {})
    served.http("POST", f"/api/v1/documents/{doc_id}/send", body, {})
    served.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "dead_lettered")

    sign_in(page, served, operator)
    page.click("nav a:has-text('Эксплуатация')")
    row = page.locator("tr.letter", has=page.locator(f"a[href$='/documents/{doc_id}']"))
    assert "navigator" in row.inner_text()
    shot(page, "operations")
    served.control("navigator", "/navigator/settings", {"strict_references": False})
    row.locator("input[type=checkbox]").check()
    page.fill("input[name=comment]", "ссылки Навигатора исправлены")
    page.click("#replay-selected")
    page.wait_for_url("**done=replay-1")
    served.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "delivered")
    page.goto(f"{served.url}/console/documents/{doc_id}")
    journal = page.inner_text("table.journal")
    assert "replayed" in journal and "ссылки Навигатора исправлены" in journal
    # Delivered to the Navigator, the agreement waits for the provider: 10 working days from today.
    page.goto(f"{served.url}/console/agreements")
    row = page.locator("tr", has=page.locator(f"a[href$='/documents/{doc_id}']"))
    assert "ожидает подписи" in row.inner_text() and row.locator("td").nth(4).inner_text() == "10"


def test_an_operator_watches_a_sync_progress(served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    operator = served.token("support_centre", "operator")
    sign_in(page, served, operator)
    page.goto(f"{served.url}/console/registry")
    page.check("input[name=full]")
    # A slow Navigator (0.1 s a page, 40 pages): the run is still going when its page opens.
    served.control("navigator", "/faults", {"latency_ms": 100})
    polled: list[str] = []
    page.on("response", lambda r: polled.append(r.url) if r.url.endswith("/progress.json") else None)
    try:
        page.click("#start-sync")
        page.wait_for_url("**/console/registry/*")
        assert page.inner_text("#status") == "идёт"
        # The page's script updates the figures in place (the CSP allows only the console's own script).
        expect(page.locator("#processed")).not_to_have_text("0", timeout=60_000)
        shot(page, "registry-run")
        expect(page.locator("#status")).to_have_text("завершена", timeout=120_000)
    finally:
        served.control("navigator", "/faults", None, method="DELETE")
    assert polled, "the page polls the progress endpoint"
    total = page.inner_text("#total")
    assert page.inner_text("#processed") == total and int(total) > 0
    assert float(page.inner_text("#percent")) == 100


def test_main_pages_render(served: Served, page: Any) -> None:
    body = served.token("administration", "authorized_body")
    sign_in(page, served, body)
    for path, heading, name in (("deadlines", "Сроки муниципалитета", "deadlines"),
                                ("agreements", "Соглашения, ожидающие подписи", "agreements"),
                                ("publications", "Публикация", "publications"),
                                ("applications", "Заявления потребителей", "applications"),
                                ("indicators?year=2026", "Показатели социального заказа", "indicators")):  # fmt: skip
        page.goto(f"{served.url}/console/{path}")
        assert heading in page.inner_text("h1")
        shot(page, name)
    assert page.locator("svg.chart rect").count() > 0
    page.goto(f"{served.url}/console/operations")
    assert "Мёртвые письма доступны оператору шлюза" in page.inner_text(".problem")
