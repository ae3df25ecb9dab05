"""``gateway serve --demo``: the three jobs for every configured municipality, against the emulators.

The demo is a client of the gateway's own HTTP API, making the calls a municipal system
would make (tokens are issued straight into the database, as ``gateway tokens issue``
does).  Who takes each action is read from the profile's permissions, so Livny's order
goes through its finance department without a line of code about Livny.  For each
municipality, concurrently:

1. **publishing**: the social order (D1) is submitted, approved, the profile's
   steps done, signed, sent to Electronic Budget and followed until budget.gov.ru shows it;
2. **agreement**: the demo provider's registry application (D3) goes to the
   Navigator, then the cost agreement (D4) signed by the body; the Navigator emulator
   countersigns with the provider's test key and the gateway concludes it;
3. **registry sync**: a full reconciliation of the certificate registry with the
   Navigator and EAIS DO.

A job that cannot finish is reported with its stable code and the gateway's reason (for
example a profile that still lacks data, docs/decrees.md §9 scenario 15): a report, not a crash.
The gateway keeps running afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.app.demo_pki import demo_password
from gateway.context import Context
from gateway.municipalities.profile import Profile, Role
from gateway.workflow import tokens
from signing import cms
from signing.certificates import Certificate
from signing.keys import GostSigner, load_signer

WAIT_S = 180.0
POLL_S = 0.5
SYNC_COUNTS = {
    "added": "добавлено", "changed": "изменено", "removed": "удалено", "conflicting": "конфликтов",
    "unchanged": "без изменений", "ignored": "пропущено", "out_of_scope": "других муниципалитетов",
    "eais_pushed": "передано в ЕАИС ДО", "eais_failed": "не принято ЕАИС ДО",
    "navigator_corrected": "исправлено в Навигаторе", "navigator_failed": "не исправлено в Навигаторе",
    "retries": "повторов",
}  # fmt: skip
DEADLINE_STATES = {"open": "открыт", "met": "выполнен", "overdue": "просрочен"}
DECREE_CATEGORIES = ("annual_order", "indicator_values", "plan")


class DemoStop(Exception):
    """A job ended before its goal: ``code`` is stable English, ``detail`` Russian for people.

    ``refused`` means the gateway's rules stopped it with a field-addressed problem (HTTP 4xx:
    the gateway working as designed, e.g. docs/decrees.md §9 scenario 15); anything else is a failure.
    """

    def __init__(self, code: str, detail: str, refused: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.refused = refused


@dataclass
class Report:
    municipality: str
    name: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, job: str, text: str) -> None:
        self.lines.append((job, text))

    def render(self) -> str:
        out = [f"== {self.name} ({self.municipality}) =="]
        out += [f"  {job}: {text}" for job, text in self.lines]
        return "\n".join(out)


class Client:
    """JSON over the gateway's API with per-(org, role) tokens of one municipality."""

    def __init__(self, ctx: Context, http: aiohttp.ClientSession, base_url: str, profile: Profile) -> None:
        self.ctx, self.http, self.base, self.profile = ctx, http, base_url.rstrip("/"), profile
        self._tokens: dict[tuple[str, str, str | None], str] = {}

    async def token(self, role: str, org: str, inn: str | None = None) -> str:
        key = (role, org, inn)
        if key not in self._tokens:
            self._tokens[key] = await tokens.issue(self.ctx, self.profile.id, org, Role(role), inn=inn)
        return self._tokens[key]

    async def actor_token(self, doc_type: str, action: str) -> str:
        """A token of whoever the profile lets take ``action`` on ``doc_type`` (first rule)."""
        rule = self.profile.permissions[doc_type][action].allowed[0]
        role = rule.roles[0]
        org = rule.orgs[0] if rule.orgs else self.org_of(role.value)
        return await self.token(role.value, org)

    def org_of(self, role: str) -> str:
        orgs = [o for o in self.profile.organisations if role in {r.value for r in o.roles}]
        own = [o for o in orgs if o.acts_for is None]
        return (own or orgs)[0].id if orgs else role

    async def call(self, method: str, path: str, token: str | None = None, json: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=json, headers=headers) as resp:
            body = await resp.json(content_type=None) if "json" in resp.headers.get("Content-Type", "") else None
            return resp.status, body

    async def ok(self, method: str, path: str, token: str | None = None, json: Any = None) -> Any:
        status, body = await self.call(method, path, token, json)
        if status >= 400:
            body = body or {}
            errors = body.get("errors") or [{}]
            detail = errors[0].get("detail") or body.get("detail") or f"HTTP {status}"
            where = errors[0].get("pointer") or errors[0].get("path") or ""
            code = str(errors[0].get("code") or body.get("code") or status)
            raise DemoStop(code, f"{detail} {where}".strip(), refused=400 <= status < 500 and status not in (401, 403, 404, 429))
        return body

    async def raw(self, path: str, token: str) -> bytes:
        async with self.http.get(self.base + path, headers={"Authorization": f"Bearer {token}"}) as resp:
            resp.raise_for_status()
            return await resp.read()

    async def example(self, doc_type: str) -> dict[str, Any]:
        return dict(await self.ok("GET", f"/api/v1/schemas/{doc_type}/example?municipality={self.profile.id}"))

    async def submit(self, token: str, doc_type: str, payload: dict[str, Any]) -> str:
        body = {"type": doc_type, "municipality": self.profile.id, "payload": payload}
        return str((await self.ok("POST", "/api/v1/documents", token, body))["id"])

    async def act(self, token: str, doc_id: str, action: str) -> dict[str, Any]:
        return dict(await self.ok("POST", f"/api/v1/documents/{doc_id}/{action}", token, {}))

    async def wait(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(POLL_S)
        raise DemoStop("timeout", f"не дождались: {what} за {WAIT_S:.0f} с")

    async def delivered(self, token: str, doc_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            doc = await self.ok("GET", f"/api/v1/documents/{doc_id}", token)
            dead = [d for d in doc["deliveries"] if d["status"] == "dead_lettered"]
            if dead:
                raise DemoStop("dead_lettered", f"система {dead[0]['system']} отвергла документ")
            done = doc["deliveries"] and all(d["status"] == "delivered" for d in doc["deliveries"])
            return dict(doc) if done else None

        return dict(await self.wait("доставка документа", probe))


async def publish_social_order(c: Client, report: Report) -> None:
    job = "публикация социального заказа"
    creator = await c.actor_token("social_order", "create")
    doc_id = await c.submit(creator, "social_order", await c.example("social_order"))
    await c.act(await c.actor_token("social_order", "approve"), doc_id, "approve")
    steps = [s.id for s in c.profile.steps if s.document_type == "social_order"]
    for step in steps:
        await c.act(await c.actor_token("social_order", step), doc_id, step)
    await c.act(await c.actor_token("social_order", "sign"), doc_id, "sign")
    sender = await c.actor_token("social_order", "send")
    doc = await c.act(sender, doc_id, "send")

    async def published() -> dict[str, Any] | None:
        pub = await c.ok("GET", f"/api/v1/publications/{doc_id}", creator)
        if pub.get("state") == "returned":  # a correction needs a person: report it
            raise DemoStop("publication_returned", "«Электронный бюджет» вернул заказ на доработку")
        return dict(pub) if pub.get("state") == "published" else None

    pub = await c.wait("публикация на budget.gov.ru", published)
    sent_by = c.profile.permissions["social_order"]["send"].allowed[0]
    via = f"; направлен в «Электронный бюджет» ролью {sent_by.roles[0].value}" + (
        f" ({', '.join(sent_by.orgs)})" if sent_by.orgs else ""
    )
    done_steps = f"; шаги профиля: {', '.join(steps)}" if steps else ""
    report.add(job, f"№ {doc['number']} подписан, отправлен{via}{done_steps}; опубликован на budget.gov.ru "
                    f"{pub.get('publish_date')}, реестровый номер {pub.get('registration_number')}")  # fmt: skip


def _provider_fields(cert: Certificate) -> dict[str, str]:
    inn = cert.innle or cert.inn or ""
    return {"inn": inn, "ogrn": cert.ogrn or "", "kpp": f"{inn[:4]}01001"}


async def conclude_agreement(c: Client, report: Report, provider_key: GostSigner) -> None:
    job = "соглашение (подписание)"
    provider_cert = provider_key.certificate
    fields = _provider_fields(provider_cert)
    name = provider_cert.subject.get("O", "исполнитель услуг")
    provider = await c.token("provider", name, fields["inn"])
    application = await c.example("provider_registry_application")
    application["provider"].update(fields)
    app_id = await c.submit(provider, "provider_registry_application", application)
    approver = await c.actor_token("provider_registry_application", "approve")
    await c.act(approver, app_id, "approve")
    # The provider signs its application with its own qualified key, outside the gateway:
    # a detached CMS over the canonical XML, handed over in the sign action.
    xml = await c.raw(f"/api/v1/documents/{app_id}/xml", provider)
    der = await asyncio.to_thread(cms.sign_detached, xml, provider_key)
    await c.ok("POST", f"/api/v1/documents/{app_id}/sign", provider, {"signature": base64.b64encode(der).decode()})
    await c.act(await c.actor_token("provider_registry_application", "send"), app_id, "send")
    await c.delivered(approver, app_id)

    agreement = await c.example("cost_agreement")
    agreement["registry_application"] = {"number": application["number"]}
    agreement["provider"].update(fields)
    body = await c.actor_token("cost_agreement", "create")
    doc_id = await c.submit(body, "cost_agreement", agreement)
    for action in ("approve", "sign", "send"):
        await c.act(await c.actor_token("cost_agreement", action), doc_id, action)
    await c.delivered(body, doc_id)
    operator = await c.token("operator", c.org_of("operator"))

    async def concluded() -> dict[str, Any] | None:
        await c.ok("POST", "/api/v1/agreements/poll", operator)
        view = await c.ok("GET", f"/api/v1/agreements/{doc_id}", body)
        if view.get("status") in {"refused", "expired"}:
            outcome = view.get("outcome") or {}
            raise DemoStop(str(outcome.get("code") or view["status"]), str(outcome.get("detail") or view["status_text"]))
        return dict(view) if view.get("status") == "concluded" else None

    view = await c.wait("встречная подпись исполнителя", concluded)
    signers = ", ".join(s.get("signer_role", "?") for s in view.get("signatures", []))
    report.add(job, f"заявка {application['number']} (подписана исполнителем) и соглашение № {agreement['number']} направлены в Навигатор; "
                    f"подписи: {signers}; соглашение заключено")  # fmt: skip


async def sync_registry(c: Client, report: Report) -> None:
    job = "реестр получателей сертификатов"
    operator = await c.token("operator", c.org_of("operator"))
    run = await c.ok("POST", "/api/v1/registry/sync", operator, {"full": True})

    async def finished() -> dict[str, Any] | None:
        state = await c.ok("GET", f"/api/v1/registry/sync/{run['run_id']}", operator)
        if state["status"] in {"failed", "interrupted"}:
            raise DemoStop(f"sync_{state['status']}", str(state.get("error") or state["status"]))
        return dict(state) if state["status"] == "completed" else None

    state = await c.wait("синхронизация реестра", finished)
    counts = state.get("counts", {})
    shown = ", ".join(f"{label} {counts[key]}" for key, label in SYNC_COUNTS.items() if counts.get(key)) or "изменений нет"
    report.add(job, f"полная сверка с Навигатором и ЕАИС ДО: обработано {state['processed']} записей; {shown}")


def deadline_label(d: dict[str, Any]) -> str:
    """A deadline in a few words: the decree's own ones by year, source and result, a document's by its title."""
    category = d.get("category")
    if category == "annual_order":
        return f"социальный заказ на {d.get('order_year')} год (утверждён и размещён)"
    if category == "indicator_values":
        return f"значения показателей эффективности ({d.get('source')})"
    if category == "plan":
        return f"{d.get('source')}: {d.get('result') or d['kind']}"
    return str(d.get("title") or d["kind"])


def deadline_state(d: dict[str, Any]) -> str:
    state = DEADLINE_STATES.get(d["status"], d["status"])
    if d["status"] == "met":
        state += f" {d.get('met_on')}" + (" с опозданием" if d.get("late") else "")
    when = f"срок {d['due']}" if d.get("due") else f"с {d.get('started_on')}"
    words = f" «{d['due_text']}»" if d.get("due_text") else ""
    return f"{state} ({when}{words})"


async def overdue(c: Client, report: Report) -> None:
    token = await c.token("authorized_body", c.org_of("authorized_body"))
    listing = await c.ok("GET", f"/api/v1/deadlines?municipality={c.profile.id}&status=overdue", token)
    items = listing.get("items", [])
    text = f"{len(items)}: " + "; ".join(f"{deadline_label(d)} — срок {d['due']}" for d in items) if items else ""
    report.add("просроченные сроки", text or "нет")


async def decree_deadlines(c: Client, report: Report) -> None:
    """The decree's own deadlines (annual order, indicator values, plan rows) with their state."""
    token = await c.token("authorized_body", c.org_of("authorized_body"))
    listing = await c.ok("GET", f"/api/v1/deadlines?municipality={c.profile.id}&status=open,met,overdue", token)
    items = [d for d in listing.get("items", []) if d.get("category") in DECREE_CATEGORIES]
    report.add("сроки постановления", "; ".join(f"{deadline_label(d)} — {deadline_state(d)}" for d in items) or "нет")


async def _guard(report: Report, job: str, work: Awaitable[None], counted: bool = True) -> None:
    try:
        await work
    except DemoStop as stop:
        if stop.refused:
            report.add(job, f"отказано правилом — {stop.code}: {stop.detail}")
            report.refused.append(f"{job}: {stop.code}")
        else:
            report.add(job, f"ошибка — {stop.code}: {stop.detail}")
            report.failed.append(f"{job}: {stop.code}")
    else:
        if counted:
            report.done.append(job)


async def run_municipality(ctx: Context, http: aiohttp.ClientSession, base_url: str, profile: Profile,
                           provider_key: GostSigner) -> Report:  # fmt: skip
    client = Client(ctx, http, base_url, profile)
    report = Report(profile.id, profile.name)
    await asyncio.gather(
        _guard(report, "публикация социального заказа", publish_social_order(client, report)),
        _guard(report, "соглашение (подписание)", conclude_agreement(client, report, provider_key)),
        _guard(report, "реестр получателей сертификатов", sync_registry(client, report)),
    )
    await _guard(report, "просроченные сроки", overdue(client, report), counted=False)
    await _guard(report, "сроки постановления", decree_deadlines(client, report), counted=False)
    return report


async def run_demo(ctx: Context, base_url: str, out: Callable[[str], None] = print) -> list[Report]:
    """Run the jobs for every municipality; print each report as it completes."""
    pki = ctx.settings.effective_pki_dir
    key_file, cert_file = pki / "provider.key.pem", pki / "provider.pem"
    if not (key_file.is_file() and cert_file.is_file()):
        out(f"Демонстрация невозможна: нет ключа исполнителя услуг в {pki} (тестовый УЦ не создан)")
        return []
    provider_key = await asyncio.to_thread(load_signer, key_file, cert_file, demo_password(ctx.settings))
    started = time.monotonic()
    out(f"Демонстрация: три задачи для {len(ctx.profiles)} муниципалитетов ({ctx.clock.today().isoformat()})…")
    reports: list[Report] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        tasks = [run_municipality(ctx, http, base_url, p, provider_key) for _, p in sorted(ctx.profiles.items())]
        for finished in asyncio.as_completed(tasks):
            report = await finished
            reports.append(report)
            out(report.render())
    done, refused, failed = (sum(len(getattr(r, k)) for r in reports) for k in ("done", "refused", "failed"))
    summary = f"выполнено задач: {done}"
    if refused:
        summary += f"; отказано правилами профиля: {refused} (ожидаемое поведение, причина и код — выше)"
    if failed:
        summary += f"; ОШИБОК: {failed}"
    out(f"Демонстрация завершена за {time.monotonic() - started:.0f} с: {summary}")
    return reports
