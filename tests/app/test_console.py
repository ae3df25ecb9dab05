"""The console over HTTP (no browser): session cookie, CSRF, role checks as in the API, pages, exports."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from gateway.app.console.charts import bar_chart
from gateway.app.console.exports import to_csv
from gateway.app.console.progress import duration_text, speed
from gateway.app.http import create_app
from gateway.context import Context
from gateway.store.tables import journal
from gateway.workflow import tokens
from queues import dead_letters as letters
from queues.abc import Message
from tests.support.gateway import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browserless:
    """A console user over aiohttp's test client; the session cookie is carried by hand (it is Secure)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookie: str | None = None
        self.signed_in = False

    async def get(self, path: str) -> tuple[int, str, Any]:
        resp = await self.client.get(path, headers=self._headers(), allow_redirects=False)
        self._keep(resp)
        return resp.status, await resp.text(), resp

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], csrf: bool = True) -> tuple[int, str, Any]:
        if csrf:
            _, page, _ = await self.get("/console/documents" if self.signed_in else "/console/login")
            token = CSRF.search(page)
            assert token is not None
            data = [*(data.items() if isinstance(data, dict) else data), ("csrf", token.group(1))]
        resp = await self.client.post(path, data=data, headers=self._headers(), allow_redirects=False)
        self._keep(resp)
        return resp.status, await resp.text(), resp

    def _headers(self) -> dict[str, str]:
        return {"Cookie": f"gw_console={self.cookie}"} if self.cookie else {}

    def _keep(self, resp: Any) -> None:
        morsel = resp.cookies.get("gw_console")
        if morsel is not None:
            self.cookie = morsel.value or None

    async def login(self, token: str) -> None:
        await self.get("/console/login")
        status, _, resp = await self.post("/console/login", {"token": token})
        assert status == 303 and resp.headers["Location"] == "/console/documents"
        self.signed_in = True


@pytest.fixture
async def console(sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> tuple[Api, Callable[[], Browserless]]:
    client = await aiohttp_client(create_app(sqlite_ctx))
    return Api(client, sqlite_ctx), lambda: Browserless(client)


async def test_login_sets_an_encrypted_strict_cookie_and_needs_csrf(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    token = await api.token("luga", "administration", "authorized_body")
    anonymous = user()
    status, _, resp = await anonymous.get("/console/documents")
    assert status == 303 and resp.headers["Location"] == "/console/login"
    status, page, _ = await anonymous.post("/console/login", {"token": token}, csrf=False)
    assert status == 403 and "csrf_invalid" in page
    status, page, resp = await anonymous.post("/console/login", {"token": "gw_0_wrong"})
    assert status == 401 and "Токен не действителен" in page
    me = user()
    await me.get("/console/login")
    status, _, resp = await me.post("/console/login", {"token": token})
    assert status == 303
    me.signed_in = True
    cookie = resp.headers["Set-Cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/console"):
        assert flag in cookie
    assert token not in cookie and token.split("_")[2] not in cookie
    status, page, resp = await me.get("/console/documents")
    assert status == 200 and "Документы" in page and "administration" in page
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    status, _, _ = await me.post("/console/logout", {})
    assert status == 303
    assert (await me.get("/console/documents"))[0] == 303


async def test_a_revoked_token_ends_the_session(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    token = await api.token("luga", "administration", "authorized_body")
    me = user()
    await me.login(token)
    assert (await me.get("/console/documents"))[0] == 200
    assert await tokens.revoke(api.ctx, token.split("_")[1])
    status, _, resp = await me.get("/console/documents")
    assert status == 303 and resp.headers["Location"].startswith("/console/login")


async def test_documents_follow_the_api_roles(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    body = await api.token("luga", "administration", "authorized_body")
    provider = await api.token("luga", "Пример", "provider", "7707083893")
    other = await api.token("luga", "Другой", "provider", "7736207543")
    example = api.own(provider, "provider_registry_application", await api.example("provider_registry_application", "luga"))
    _, accepted = await api.submit(provider, "provider_registry_application", "luga", example)
    doc_id, number = accepted["id"], example["number"]

    me = user()
    await me.login(body)
    status, page, _ = await me.get(f"/console/documents?number={number}")
    assert status == 200 and doc_id in page
    status, page, _ = await me.get("/console/documents?number=no-such-number")
    assert doc_id not in page
    status, page, _ = await me.get(f"/console/documents/{doc_id}")
    assert status == 200 and "Утвердить" in page and "Журнал" in page

    stranger = user()
    await stranger.login(other)
    assert doc_id not in (await stranger.get("/console/documents"))[1]
    status, page, _ = await stranger.get(f"/console/documents/{doc_id}")
    assert status == 404 and "Документ не найден" in page and "document_not_found" in page

    owner = user()
    await owner.login(provider)
    status, page, _ = await owner.post(f"/console/documents/{doc_id}/act", {"action": "approve"})
    assert status == 403 and "action" in page  # the API's refusal, as a page

    status, _, _ = await me.post(f"/console/documents/{doc_id}/act", {"action": "approve"}, csrf=False)
    assert status == 403
    status, _, resp = await me.post(f"/console/documents/{doc_id}/act", {"action": "approve"})
    assert status == 303 and resp.headers["Location"].endswith("?done=approve")
    _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", body)
    assert doc["status"] == "approved"
    _, page, _ = await me.get(f"/console/documents/{doc_id}?done=approve")
    assert "утверждён" in page and "approved" in page  # status word and the journal's event
    status, page, _ = await me.post(f"/console/documents/{doc_id}/act", {"action": "reject"})
    assert status == 422 and "reason_required" in page


async def test_signing_shows_the_certificate_owner_validity_and_qualified_status(
    console: tuple[Api, Callable[[], Browserless]],
) -> None:
    api, user = console
    body = await api.token("luga", "administration", "authorized_body")
    _, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
    doc_id = accepted["id"]
    me = user()
    await me.login(body)
    _, page, _ = await me.get(f"/console/documents/{doc_id}")
    assert "Подписать" not in page.split("Недоступные сейчас действия")[0]  # not before approval
    for action in ("approve", "sign"):
        status, page, _ = await me.post(f"/console/documents/{doc_id}/act", {"action": action})
        assert status == 303, page
    _, page, _ = await me.get(f"/console/documents/{doc_id}")
    _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    (sig,) = sigs["items"]
    signatures = page.split("<h2>Подписи</h2>")[1].split("<h2>Журнал</h2>")[0]
    assert "действует" in signatures and "да (КС1)" in signatures and sig["inn"] in signatures
    assert "подписан" in page


async def test_a_publication_page_shows_every_round(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    body = await api.token("luga", "administration", "authorized_body")
    _, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
    doc_id = accepted["id"]
    for action in ("approve", "sign", "send"):
        assert (await api.act(body, doc_id, action))[0] == 200, action
    _, publication = await api.call("GET", f"/api/v1/publications/{doc_id}", body)
    (first,) = publication["rounds"]
    me = user()
    await me.login(body)
    _, listing, _ = await me.get("/console/publications")
    assert f"/console/publications/{doc_id}" in listing
    status, page, _ = await me.get(f"/console/publications/{doc_id}")
    assert status == 200 and first["submitted_on"] in page and "Раунд" in page
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == len(publication["rounds"]) == 1
    provider = await api.token("luga", "Пример", "provider", "7707083893")
    seller = user()
    await seller.login(provider)
    api_status, problem = await api.call("GET", f"/api/v1/publications/{doc_id}", provider)
    status, page, _ = await seller.get(f"/console/publications/{doc_id}")
    assert status == api_status and problem["code"] in page


async def test_feature_pages_answer_and_refuse_like_the_api(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    me = user()
    await me.login(body)
    for path in ("/console/deadlines", "/console/agreements", "/console/publications", "/console/applications",
                 "/console/registry", "/console/indicators"):
        status, page, _ = await me.get(path)
        assert status == 200, (path, page[:500])
    status, page, _ = await me.get("/console/operations")
    assert status == 403 and "Мёртвые письма доступны оператору шлюза" in page
    ops = user()
    await ops.login(operator)
    status, page, _ = await ops.get("/console/operations")
    assert status == 200 and "Мёртвых писем нет" in page
    status, page, _ = await ops.post("/console/operations/dead-letters", [("do", "replay")])
    assert status == 422 and "nothing_selected" in page
    provider = await api.token("luga", "Пример", "provider", "7707083893")
    seller = user()
    await seller.login(provider)
    for page_path, api_path in (("/console/indicators", "/api/v1/indicators"), ("/console/publications", "/api/v1/publications"),
                                ("/console/operations", "/api/v1/dead-letters"), ("/console/registry/x", "/api/v1/registry/sync/x")):  # fmt: skip
        api_status, problem = await api.call("GET", api_path, provider)
        status, page, _ = await seller.get(page_path)
        assert (status, api_status) == (403, 403) and problem["code"] in page and problem["detail"] in page, page_path


async def test_an_operator_discards_dead_letters_and_the_journal_says_so(
    console: tuple[Api, Callable[[], Browserless]],
) -> None:
    api, user = console
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    ids = []
    async with api.ctx.db.write() as conn:
        for n, municipality in enumerate(("luga", "luga", "other")):
            message = Message(message_id=f"m{n}", routing_key="navigator.cost_agreement", body=b"<signed/>",
                              headers={"municipality": municipality})  # fmt: skip
            ids.append(await letters.record(conn, message, "navigator", "PermanentError: refused"))
    ops = user()
    await ops.login(operator)
    _, page, _ = await ops.get("/console/operations")
    assert page.count('class="letter"') == 2 and "PermanentError: refused" in page  # not the other municipality's
    stranger = [("do", "discard"), ("id", str(ids[2]))]
    assert (await ops.post("/console/operations/dead-letters", stranger))[0] == 404
    clerk = user()
    await clerk.login(body)
    assert (await clerk.post("/console/operations/dead-letters", [("do", "discard"), ("id", str(ids[0]))]))[0] == 403
    status, _, resp = await ops.post(
        "/console/operations/dead-letters", [("do", "discard"), ("id", str(ids[0])), ("id", str(ids[1])), ("comment", "дубли")]
    )
    assert status == 303 and resp.headers["Location"].endswith("done=discard-2")
    async with api.ctx.db.read() as conn:
        assert [d.id for d in await letters.list_dead_letters(conn)] == [ids[2]]
        events = (await conn.execute(sa.select(journal.c.event, journal.c.details))).all()
    discarded = [d for e, d in events if e == "dead_letter_discarded"]
    assert sorted(d["dead_letter_id"] for d in discarded) == ids[:2] and all(d["comment"] == "дубли" for d in discarded)
    assert "access_refused" in [e for e, _ in events]  # the clerk's 403 is journaled


async def test_indicator_exports(console: tuple[Api, Callable[[], Browserless]]) -> None:
    api, user = console
    me = user()
    await me.login(await api.token("luga", "administration", "authorized_body"))
    status, page, _ = await me.get("/console/indicators?year=2026")
    assert status == 200 and "<svg" in page
    status, text, resp = await me.get("/console/indicators.csv?year=2026")
    assert status == 200 and text.splitlines()[0].lstrip("\ufeff").startswith("Показатель;")
    resp = await me.client.get("/console/indicators.xlsx?year=2026", headers=me._headers())
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert sheet is not None and sheet["A2"].value == "Показатель" and sheet.max_row > 2


def test_speed_and_eta() -> None:
    sp = speed(500, 2000, "2026-11-23T09:00:00.000000Z", "2026-11-23T09:00:10.000000Z")
    assert sp.rate == 50 and sp.eta_s == 30
    assert speed(0, 10, "2026-11-23T09:00:00Z", "2026-11-23T09:00:10Z") == speed(1, 1, None, None)
    assert speed(10, None, "2026-11-23T09:00:00Z", "2026-11-23T09:00:10Z").eta_s is None
    assert duration_text(3725) == "1 ч 02 мин" and duration_text(65) == "1 мин 05 с" and duration_text(None) == "—"


@given(st.lists(st.tuples(st.text(max_size=8), st.one_of(st.none(), st.integers(0, 10**6))), max_size=12))
def test_chart_escapes_labels_and_draws_one_bar_per_value(bars: list[tuple[str, int | None]]) -> None:
    svg = bar_chart([(label, None if v is None else float(v)) for label, v in bars], "<t>")
    assert "<t>" not in svg and svg.count("<rect") == sum(1 for _, v in bars if v is not None)
    assert svg.count("<text") == 1 + len(bars) + len(bars)


def test_csv_opens_in_a_russian_spreadsheet() -> None:
    data = to_csv([{"id": "1.2", "text": "Число; «НКО»", "unit": "ед.", "computable": "partial", "value": None,
                    "method": "м"}])  # fmt: skip
    assert data.startswith("\ufeff".encode()) and '"Число; «НКО»"' in data.decode("utf-8")
