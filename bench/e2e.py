"""End to end through the HTTP API: documents submitted, acted on and delivered, against a raw ceiling.

Run (from the repository root; PostgreSQL and RabbitMQ on loopback only for ``pg-rabbit``)::

    .venv/bin/python bench/e2e.py                                  # embedded, 2000 documents, 32 clients
    .venv/bin/python bench/e2e.py -n 200 -c 16
    .venv/bin/python bench/e2e.py --backend pg-rabbit --workers 2
    .venv/bin/python bench/e2e.py --all                            # embedded, pg-rabbit x1, pg-rabbit x2
    .venv/bin/python bench/e2e.py --submit batch --batch-size 200  # POST /api/v1/documents/batch

What it measures.  ``gateway serve`` (and, for ``pg-rabbit``, W ``gateway worker``) runs as
subprocesses on a free loopback port with a fresh temporary ``GATEWAY_DATA_DIR`` (its demo
PKI and key registry are created there on start) and, for ``pg-rabbit``, a fresh PostgreSQL
database on 127.0.0.1:5432 and a unique RabbitMQ queue prefix on 127.0.0.1:5672 (both
removed afterwards).  The emulators of the state systems run in a process of their own
(``gateway demo-pki`` then ``gateway emulators``, as docker compose does), on free ports given
through the ``GATEWAY_SYSTEMS__*__BASE_URL`` settings; ``--emulators-in-serve`` lets ``gateway
serve`` run them instead (its CPU and RSS then include theirs; the output says which).  The adapters' token-bucket rate limits
(20 requests/s per system by default, a courtesy to real systems) are lifted unless
``--keep-rate-limits``: with them the delivery phase measures the limiter, not the gateway.

``-n`` documents (default 2000) from ``-c`` concurrent clients (default 32): the seven types
in rounds of one of each, rounds taking the configured municipalities in turn.  Each round
is linked as the gateway links documents (D1 → D2, D3 → D4, D5 → D6 → D7, by number and
id) and every payload is the gateway's own example for that municipality
(``gateway/workflow/examples.py``) with a number unique to the document and the run, one
child per round, and the demo PKI's provider as the provider (its INN and OGRN), so that the
provider's own signature counts.  Because the rules refuse a report on an order that is not
approved, an agreement with a provider not in the registry and a contract on a certificate
not issued, and the Navigator refuses a contract on a certificate it has not received, the
documents go in two rounds: first D1, D3, D5 and D6 (D6 submitted after D5), then D2, D4
and D7; each round goes through every phase:

* ``submit``: ``POST /api/v1/documents``, one per request (or batches with ``--submit batch``;
  if the endpoint is not there the output says so and single requests are used);
* each action in turn, for every document whose profile has it, by the role and organisation
  the profile's first permission rule names (as the demo does): ``approve``, the profile's
  steps (Livny: ``forward_to_finance``, ``post_on_website``), ``sign`` (server-side key of the
  body; the provider signs D3 and D7 with its own key: ``GET …/xml``, CMS made here, posted
  as ``signature``), ``send``.  Kirovsky's social order names programmes without registry
  codes and is refused at ``send`` by design (``programme_code_mapping_missing``): it ends
  at ``sign`` and is reported as such;
* ``wait``: until every delivery of every sent document is ``delivered``: the list endpoint
  filtered by ``status=sent`` (one request per municipality every 0.2 s; a document leaves
  ``sent`` when its last delivery is delivered) and, when that count stops falling, a ``GET``
  of each document still ``sent`` (so a document whose deliveries are all delivered but
  whose status stayed ``sent`` ends the wait too, and is named in the output); a wait that
  makes no progress for ``--stall`` seconds stops and the stuck documents are reported.

Printed, one figure per line: documents/s per phase (summed over both rounds) and for the
whole way (first submit to last delivery), p50/p99 latency per request kind, error counts by
kind, HTTP status and problem ``code`` (429 answers are retried after ``Retry-After`` and
counted), what every document ended as (a ``GET`` of each, after the clock stops), and the
peak RSS (``VmHWM``, polled) of every gateway process.

Baseline, same run, same machine, same client code and client count: ``bench/e2e_ceiling.py``
in its own process, an aiohttp server doing one INSERT and COMMIT per request into the same
database kind (a SQLite file with WAL in the temporary directory; a table in the run's
PostgreSQL database), sent the same N submit bodies.  Ratios: whole way docs/s ÷ ceiling
req/s, and submit docs/s ÷ ceiling req/s.

Profile findings
----------------

How: ``py-spy record -p <gateway serve pid> --gil --rate 100 --format raw -d 45`` during a run
of 1000 documents, stacks aggregated by function (inclusive and self time).  Findings, and
what was done about them:

* ``gateway serve`` is CPU-bound at one core on the embedded default; before the changes the
  time was spread thin: SQLAlchemy statement execution (cache keys, execution contexts,
  ``_init_compiled``: about 15 %), aiosqlite's thread hand-offs (``call_soon_threadsafe`` and
  the self-pipe: about 7 %; a read transaction cost nine hand-offs), BEGIN/COMMIT of read
  transactions, the token lookup, ``act`` reading the document back after writing it, and
  the features' hooks querying for every action.  Done: single-statement reads without a
  transaction (one hand-off), statements built once, ``act`` answers from what it wrote,
  one INSERT for an action's journal entries; statements per request: send 18 → 11,
  approve and sign 11 → 6, submit 5 → 4; CPU per request about halved (send 10–13 → 4 ms).
* The journal's head row, locked by every write transaction, serialised all writers (and
  deadlocked PostgreSQL): appends are plain inserts now, sealed by a background task.
* On SQLite the transport had its own engine on the same file: its writers polled the file
  lock with SQLite's busy handler (sleeps of 1–100 ms) while the request batches kept the
  lock, and deliveries starved.  The transport now writes through the gateway's write
  connection, queued first come first served: the delivery phase ran twice as fast.
* On PostgreSQL + RabbitMQ the send phase is bound by the CPU of deliveries running at the
  same time: the relay and the emulators in ``gateway serve``, the workers, RabbitMQ's
  quorum queues and PostgreSQL share the two cores.  A send request alone costs about 6 ms
  of CPU.
* Next: the group-commit writer spends about six hand-offs per turn on SAVEPOINT/RELEASE,
  and a write through SQLAlchemy Core costs about 140 µs against 25 µs on the driver.
"""

# No ``from __future__ import annotations``: the dataclasses below must build when the module
# is loaded without an entry in ``sys.modules`` (tests/bench loads every script that way).
import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from adapters.config import SystemsSettings  # noqa: E402
from adapters.gosuslugi.config import SmevConfig  # noqa: E402
from gateway.app.demo_pki import demo_password  # noqa: E402
from gateway.context import Context  # noqa: E402
from gateway.core.settings import Settings  # noqa: E402
from gateway.documents.identifiers import make_snils  # noqa: E402
from gateway.municipalities import Profile, Role  # noqa: E402
from gateway.workflow import tokens  # noqa: E402
from gateway.workflow.examples import example_payload  # noqa: E402
from signing import cms  # noqa: E402
from signing.keys import GostSigner, load_signer  # noqa: E402

GATEWAY = REPO / ".venv" / "bin" / "gateway"
PYTHON = REPO / ".venv" / "bin" / "python"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LIFTED_RATE = 100_000
POLL_S = 0.2
TAIL = 64  # documents still `sent` read one by one when the count stops falling …
PLATEAU_S = 1.0  # … for this long
MAX_429_RETRIES = 50

# Submission order inside a round: link targets before the documents that name them.
# Round 1 (wave 1): D1, D3, D5, then D6 (names D5); round 2 (wave 2): D2, D4, D7, whose
# targets must be approved (rules) and delivered (the Navigator checks references).
ORDER = (
    "social_order", "provider_registry_application", "consumer_application", "social_certificate",
    "order_execution_report", "cost_agreement", "service_contract",
)  # fmt: skip
WAVE = {"order_execution_report": 2, "cost_agreement": 2, "service_contract": 2}
LEVEL = {"social_certificate": 1}  # submitted after the level-0 documents of its wave

TokenKey = tuple[str, str, str, str | None]  # municipality, role, org, inn


# --------------------------------------------------------------------------- measurement
@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[tuple[str, int, str]] = field(default_factory=Counter)


def problem_code(body: Any) -> str:
    if not isinstance(body, dict):
        return "-"
    code = str(body.get("code") or "-")
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = str(errors[0].get("code") or "")
        if first and first != code:
            return f"{code}/{first}"
    return code


class Api:
    """JSON over HTTP with latency per request kind and errors by (kind, status, code)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, stats: Stats) -> None:
        self.session, self.base, self.stats = session, base, stats

    async def call(
        self, kind: str, method: str, path: str, token: str | None = None, body: Any = None, record: bool = True
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in range(MAX_429_RETRIES + 1):
            started = time.perf_counter()
            try:
                async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
                    raw = await resp.read()
                    status, ctype, retry_after = resp.status, resp.headers.get("Content-Type", ""), resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                if record:
                    self.stats.errors[(kind, 0, type(exc).__name__)] += 1
                return 0, None
            if record:
                self.stats.latency[kind].append(time.perf_counter() - started)
            parsed: Any = json.loads(raw) if "json" in ctype and raw else raw
            if status >= 400 and record:
                self.stats.errors[(kind, status, problem_code(parsed))] += 1
            if status == 429 and attempt < MAX_429_RETRIES:
                await asyncio.sleep(min(float(retry_after or 1), 5.0))
                continue
            return status, parsed
        raise AssertionError("unreachable")


async def pool(items: Iterable[Any], work: Callable[[Any], Awaitable[None]], concurrency: int) -> None:
    """``work`` on every item, at most ``concurrency`` at once (each client takes the next item)."""
    it = iter(items)

    async def client() -> None:
        for item in it:
            await work(item)

    await asyncio.gather(*(client() for _ in range(concurrency)))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- documents
@dataclass(frozen=True)
class ProviderIdentity:
    name: str
    inn: str
    ogrn: str


@dataclass
class Doc:
    index: int
    type: str
    municipality: str
    wave: int
    level: int
    payload: dict[str, Any]
    creator: TokenKey
    actions: list[tuple[str, TokenKey]]
    links: dict[str, "Doc"]
    ends_before_send: str | None = None  # why a document is planned not to be sent
    id: str | None = None
    failed: str | None = None  # the phase it failed in

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "municipality": self.municipality, "payload": self.payload}


def org_of(profile: Profile, role: str) -> str:
    orgs = [o for o in profile.organisations if role in {r.value for r in o.roles}]
    own = [o for o in orgs if o.acts_for is None]
    return (own or orgs)[0].id if orgs else role


def actor(profile: Profile, doc_type: str, action: str, provider: ProviderIdentity) -> TokenKey:
    """Whoever the profile's first rule lets take ``action`` (as the demo does); providers as the PKI's provider."""
    rule = profile.permissions[doc_type][action].allowed[0]
    role = rule.roles[0]
    if role is Role.provider:
        return (profile.id, role.value, provider.name, provider.inn)
    return (profile.id, role.value, rule.orgs[0] if rule.orgs else org_of(profile, role.value), None)


def unsendable(doc_type: str, payload: dict[str, Any], profile: Profile) -> str | None:
    """A social order naming a programme the profile maps to no registry code is refused at send (by design)."""
    if doc_type != "social_order":
        return None
    for service in payload.get("services", []):
        programme_id = service.get("programme_id")
        if service.get("service_code") is None and programme_id is not None:
            programme = profile.programme(programme_id)
            if programme is None or programme.service_code is None:
                return "programme_code_mapping_missing"
    return None


def plan(n: int, profiles: dict[str, Profile], today: Any, tag: str, provider: ProviderIdentity) -> list[Doc]:
    """``n`` documents: rounds of the seven types, one municipality per round in turn, linked within the round."""
    municipalities = sorted(profiles)
    docs: list[Doc] = []
    seed_base = secrets.randbelow(10**6) * 1000
    round_no = 0
    while len(docs) < n:
        profile = profiles[municipalities[round_no % len(municipalities)]]
        seed = seed_base + round_no * 2
        chain: dict[str, Doc] = {}
        template = example_payload("consumer_application", profile, today)
        child = {**template["child"], "snils": make_snils(seed)}
        applicant = {**template["applicant"], "snils": make_snils(seed + 1)}
        for doc_type in ORDER:
            if len(docs) == n:
                break
            index = len(docs)
            payload = example_payload(doc_type, profile, today)
            payload["number"] = f"E2E-{tag}-{index:06d}"
            links: dict[str, Doc] = {}
            if doc_type == "order_execution_report":
                links["social_order"] = chain["social_order"]
                payload["year"] = chain["social_order"].payload["year"]
            elif doc_type == "provider_registry_application":
                payload["provider"].update(inn=provider.inn, ogrn=provider.ogrn, kpp=f"{provider.inn[:4]}01001")
            elif doc_type == "cost_agreement":
                links["registry_application"] = chain["provider_registry_application"]
                payload["provider"].update(inn=provider.inn, ogrn=provider.ogrn, kpp=f"{provider.inn[:4]}01001")
            elif doc_type == "consumer_application":
                payload.update(child=child, applicant=applicant)
            elif doc_type == "social_certificate":
                payload.update(child=child, holder=applicant)
                application = chain["consumer_application"]
                if application.payload["requests"]["certificate"]:
                    links["application"] = application
                # else (Livny: an enrolment-only D5) the certificate names an application the gateway does not hold
            elif doc_type == "service_contract":
                payload.update(child=child, consumer=applicant)
                payload["provider"] = {"name": provider.name, "inn": provider.inn, "ogrn": provider.ogrn}
                links["certificate"] = chain["social_certificate"]
                links["application"] = chain["consumer_application"]
            for name, target in links.items():
                payload[name] = {"number": target.payload["number"]}
            perms = profile.permissions.get(doc_type, {})
            why_not = unsendable(doc_type, payload, profile)
            names = ["approve"] if "approve" in perms else []
            names += [s.id for s in profile.steps if s.document_type == doc_type and s.id in perms]
            names += ["sign"] if "sign" in perms else []
            names += ["send"] if "send" in perms and profile.routing.get(doc_type) and why_not is None else []
            doc = Doc(
                index=index, type=doc_type, municipality=profile.id, wave=WAVE.get(doc_type, 1),
                level=LEVEL.get(doc_type, 0), payload=payload, creator=actor(profile, doc_type, "create", provider),
                actions=[(a, actor(profile, doc_type, a, provider)) for a in names], links=links, ends_before_send=why_not,
            )  # fmt: skip
            chain[doc_type] = doc
            docs.append(doc)
        round_no += 1
    return docs


def phase_order(docs: Sequence[Doc]) -> list[str]:
    """approve, the profiles' steps in the order met, sign, send."""
    steps: list[str] = []
    for doc in docs:
        for action, _ in doc.actions:
            if action not in ("approve", "sign", "send") and action not in steps:
                steps.append(action)
    return ["approve", *steps, "sign", "send"]


# --------------------------------------------------------------------------- one run
@dataclass
class Phase:
    name: str
    docs: int = 0
    seconds: float = 0.0


@dataclass
class RunResult:
    label: str
    notes: list[str] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    whole_s: float = 0.0
    completed: int = 0
    n: int = 0
    outcome: Counter[str] = field(default_factory=Counter)
    stuck: list[str] = field(default_factory=list)
    status_left_sent: list[str] = field(default_factory=list)
    rss: list[tuple[str, int]] = field(default_factory=list)
    ceiling_label: str = ""
    ceiling_rate: float = 0.0
    ceiling_stats: Stats = field(default_factory=Stats)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def phase(self, name: str) -> Phase:
        return self.phases.setdefault(name, Phase(name))


class Runner:
    def __init__(
        self, api: Api, tokens_by_key: dict[TokenKey, str], signer: GostSigner, concurrency: int,
        submit_mode: str, batch_size: int, result: RunResult, stall_s: float,
    ) -> None:  # fmt: skip
        self.api, self.tokens, self.signer, self.c = api, tokens_by_key, signer, concurrency
        self.submit_mode, self.batch_size, self.result, self.stall_s = submit_mode, batch_size, result, stall_s

    async def timed(self, name: str, count: int, work: Awaitable[None]) -> None:
        started = time.perf_counter()
        await work
        phase = self.result.phase(name)
        phase.docs += count
        phase.seconds += time.perf_counter() - started

    # -- submit
    def _prepare(self, doc: Doc) -> bool:
        for name, target in doc.links.items():
            if target.id is None:
                doc.failed = "link target failed"
                return False
            doc.payload[name]["id"] = target.id
        return True

    async def submit_one(self, doc: Doc) -> None:
        if not self._prepare(doc):
            return
        status, body = await self.api.call("submit", "POST", "/api/v1/documents", self.tokens[doc.creator], doc.body())
        if status == 202 and isinstance(body, dict):
            doc.id = body["id"]
        else:
            doc.failed = "submit"

    async def submit_batch(self, chunk: list[Doc]) -> None:
        ready = [d for d in chunk if self._prepare(d)]
        if not ready:
            return
        body = {"items": [d.body() for d in ready]}
        status, answer = await self.api.call("submit_batch", "POST", "/api/v1/documents/batch", self.tokens[ready[0].creator], body)
        results = answer.get("results") if 200 <= status < 300 and isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(ready):
            for d in ready:
                d.failed = "submit"
            return
        for doc, item in zip(ready, results, strict=True):
            if item.get("status") == 202 and item.get("id"):
                doc.id = item["id"]
            else:
                doc.failed = "submit"
                self.api.stats.errors[("submit_batch item", int(item.get("status") or 0), problem_code(item))] += 1

    async def submit(self, docs: list[Doc]) -> None:
        for level in sorted({d.level for d in docs}):
            todo = [d for d in docs if d.level == level]
            if self.submit_mode == "single":
                await pool(todo, self.submit_one, self.c)
                continue
            groups: dict[TokenKey, list[Doc]] = defaultdict(list)
            for d in todo:
                groups[d.creator].append(d)
            chunks = [g[i : i + self.batch_size] for g in groups.values() for i in range(0, len(g), self.batch_size)]
            await pool(chunks, self.submit_batch, self.c)

    # -- actions
    async def act(self, doc: Doc, action: str, who: TokenKey) -> None:
        token = self.tokens[who]
        body: dict[str, Any] = {}
        if action == "sign" and who[1] == Role.provider.value:
            # The provider signs outside the gateway: a detached CMS over the canonical XML.
            status, xml = await self.api.call("xml", "GET", f"/api/v1/documents/{doc.id}/xml", token)
            if status != 200 or not isinstance(xml, bytes):
                doc.failed = "xml"
                return
            body["signature"] = base64.b64encode(cms.sign_detached(xml, self.signer)).decode()
        status, _ = await self.api.call(action, "POST", f"/api/v1/documents/{doc.id}/{action}", token, body)
        if not 200 <= status < 300:
            doc.failed = action

    async def actions(self, docs: list[Doc], phases: list[str]) -> None:
        for name in phases:
            todo = [(d, who) for d in docs if d.failed is None for a, who in d.actions if a == name]
            if not todo:
                continue

            async def one(item: tuple[Doc, TokenKey], name: str = name) -> None:
                await self.act(item[0], name, item[1])

            await self.timed(name, len(todo), pool(todo, one, self.c))

    # -- delivery
    async def wait_delivered(self, pollers: dict[str, str]) -> bool:
        """Until every delivery of every sent document is ``delivered``; False when it stalls for ``stall_s``.

        Cheap while deliveries progress: one list request per municipality (``status=sent``; a
        document leaves ``sent`` when its last delivery is delivered).  When that count stops
        falling for ``PLATEAU_S``, the documents still ``sent`` (at most ``TAIL``) are read one by one: a document
        whose deliveries are all ``delivered`` although its status stayed ``sent`` is done too
        (the outcome lines name such documents).
        """
        remaining = dict.fromkeys(pollers, -1)
        ids: dict[str, list[str]] = {}
        last_total, last_change = -1, time.perf_counter()
        while True:
            open_ = [m for m, left in remaining.items() if left != 0]
            answers = await asyncio.gather(
                *(self.api.call("poll", "GET", f"/api/v1/documents?status=sent&page_size={TAIL}", pollers[m]) for m in open_)
            )
            for m, (status, body) in zip(open_, answers, strict=True):
                if status == 200 and isinstance(body, dict):
                    remaining[m] = int(body["total"])
                    ids[m] = [item["id"] for item in body.get("items", [])]
            total = sum(max(v, 0) for v in remaining.values())
            if total == 0 and all(v == 0 for v in remaining.values()):
                return True
            now = time.perf_counter()
            if total != last_total:
                last_total, last_change = total, now
            else:
                plateau = now - last_change >= PLATEAU_S
                if plateau and total <= TAIL and await self._all_delivered({m: ids.get(m, []) for m in open_}, pollers):
                    return True
                if now - last_change > self.stall_s:
                    return False
            await asyncio.sleep(POLL_S)

    async def _all_delivered(self, ids: dict[str, list[str]], pollers: dict[str, str]) -> bool:
        checks = [(m, doc_id) for m, listed in ids.items() for doc_id in listed]
        answers = await asyncio.gather(*(self.api.call("poll get", "GET", f"/api/v1/documents/{i}", pollers[m]) for m, i in checks))
        return all(
            status == 200 and isinstance(body, dict) and bool(body.get("deliveries"))
            and all(d["status"] == "delivered" for d in body["deliveries"])
            for status, body in answers
        )  # fmt: skip

    async def wave(self, docs: list[Doc], phases: list[str], pollers: dict[str, str]) -> bool:
        await self.timed("submit", len(docs), self.submit(docs))
        await self.actions(docs, phases)
        sent = sum(1 for d in docs if d.failed is None and any(a == "send" for a, _ in d.actions))
        ok = True

        async def wait() -> None:
            nonlocal ok
            ok = await self.wait_delivered(pollers)

        await self.timed("wait delivered", sent, wait())
        return ok


async def verify(api: Api, docs: list[Doc], pollers: dict[str, str], concurrency: int, result: RunResult) -> None:
    """One GET of every submitted document after the clock stopped: what each ended as."""

    async def one(doc: Doc) -> None:
        if doc.id is None:
            why = f"failed at {doc.failed}" if doc.failed else "its round was not run"
            result.outcome[f"{doc.type}: not submitted ({why})"] += 1
            return
        status, body = await api.call("get", "GET", f"/api/v1/documents/{doc.id}", pollers[doc.municipality])
        if status != 200 or not isinstance(body, dict):
            result.outcome[f"{doc.type}: GET {status}"] += 1
            return
        deliveries = body.get("deliveries") or []
        sent = any(a == "send" for a, _ in doc.actions)
        if doc.failed is not None:
            result.outcome[f"failed at {doc.failed}"] += 1
        elif not sent:
            result.outcome[f"{doc.type} ({doc.municipality}): ends before send by design ({doc.ends_before_send or 'no route'})"] += 1
            result.completed += 1
        elif deliveries and all(d["status"] == "delivered" for d in deliveries):
            if body.get("status") == "sent":
                result.outcome["delivered to every system, but the document's status stayed sent"] += 1
                if len(result.status_left_sent) < 10:
                    result.status_left_sent.append(f"{doc.type} {doc.municipality} {doc.id}")
            else:
                result.outcome["delivered to every system"] += 1
            result.completed += 1
        else:
            states = ", ".join(f"{d['system']} {d['status']}" for d in deliveries) or "no deliveries"
            result.outcome[f"{doc.type}: {states}"] += 1
            if len(result.stuck) < 10:
                result.stuck.append(f"{doc.type} {doc.municipality} {doc.id} status {body.get('status')}: {states}")

    await pool(docs, one, concurrency)


# --------------------------------------------------------------------------- processes
class Proc:
    """A subprocess we started: its log, its peak RSS (VmHWM, polled), stopped by its PID only."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.hwm_kb = 0
        with log.open("wb") as out:
            self.popen = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def sample(self) -> None:
        try:
            text = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                self.hwm_kb = max(self.hwm_kb, int(line.split()[1]))

    def terminate(self) -> None:
        if self.alive:
            self.sample()
            self.popen.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        try:
            self.popen.wait(max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_all(procs: Sequence[Proc], grace_s: float = 30.0) -> None:
    """SIGTERM to each (they finish in-flight work), SIGKILL to any still running after ``grace_s``."""
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.wait_or_kill(deadline - time.monotonic())


async def sample_forever(procs: list[Proc]) -> None:
    while True:
        for p in procs:
            p.sample()
        await asyncio.sleep(0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


def gateway_env(data_dir: Path, overrides: dict[str, str], lift_rate_limits: bool, log_level: str | None) -> dict[str, str]:
    """The environment of the gateway processes: ours only (no inherited GATEWAY_*), emulators on free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    defaults = SystemsSettings()
    for key, system in (("ELECTRONIC_BUDGET", defaults.electronic_budget), ("BUDGET_PORTAL", defaults.budget_portal),
                        ("NAVIGATOR", defaults.navigator), ("EAIS", defaults.eais)):  # fmt: skip
        env[f"GATEWAY_SYSTEMS__{key}__BASE_URL"] = _with_port(system.base_url, free_port())
        if lift_rate_limits:
            env[f"GATEWAY_SYSTEMS__{key}__RATE_LIMIT__PER_SECOND"] = str(LIFTED_RATE)
            env[f"GATEWAY_SYSTEMS__{key}__RATE_LIMIT__BURST"] = str(LIFTED_RATE)
    env["GATEWAY_SMEV__URL"] = _with_port(SmevConfig().endpoint(), free_port())
    if log_level:
        env["GATEWAY_LOG_LEVEL"] = log_level
    env.update(overrides)
    return env


async def wait_http(url: str, proc: Proc, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if not proc.alive:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready in {within_s:.0f} s:\n{proc.tail()}")


async def wait_line(proc: Proc, marker: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not proc.alive:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        if marker in proc.log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready in {within_s:.0f} s:\n{proc.tail()}")


# --------------------------------------------------------------------------- backends
@dataclass
class Options:
    n: int
    concurrency: int
    submit: str
    batch_size: int
    lift_rate_limits: bool
    log_level: str | None
    stall_s: float
    keep: bool
    kill_worker_at_s: float | None = None
    emulators_apart: bool = True


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _delete_topology(ctx_settings: Settings) -> None:
    """Delete the queues and exchange of the run's prefix (names from the gateway's own transport config)."""
    from gateway.delivery.transport import transport_config
    from queues.rabbitmq import delete_topology

    ctx = await Context.open(ctx_settings, migrate=False)
    try:
        config = transport_config(ctx)
    finally:
        await ctx.close()
    await delete_topology(AMQP, config)


async def run_backend(backend: str, workers: int, opts: Options) -> RunResult:
    """One backend: start the gateway's processes, go the whole way, stop them, then the ceiling; clean up."""
    pg = backend == "pg-rabbit"
    label = f"pg-rabbit (PostgreSQL, RabbitMQ, {workers} worker{'s' if workers > 1 else ''})" if pg else "embedded (SQLite, embedded queue)"
    result = RunResult(label, n=opts.n)
    tag = secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix=f"gateway-e2e-{tag}-"))
    data_dir = tmp / "var"
    db_name = f"gateway_e2e_{tag}" if pg else None
    overrides = {
        "GATEWAY_DATABASE_URL": f"postgresql+asyncpg://{PG_BASE}/{db_name}",
        "GATEWAY_AMQP_URL": AMQP,
        "GATEWAY_QUEUE__PREFIX": f"e2e{tag}",
    } if pg else {}  # fmt: skip
    settings = Settings(
        data_dir=data_dir, database_url=overrides.get("GATEWAY_DATABASE_URL"), amqp_url=overrides.get("GATEWAY_AMQP_URL"),
        queue={"prefix": overrides.get("GATEWAY_QUEUE__PREFIX", "gateway")}, run_emulators=False,
    )  # fmt: skip
    procs: list[Proc] = []
    sampler: asyncio.Task[None] | None = None
    db_created = failed = False
    try:
        if db_name is not None:
            await _pg_admin(f'CREATE DATABASE "{db_name}"')
            db_created = True
        env = gateway_env(data_dir, overrides, opts.lift_rate_limits, opts.log_level)
        if opts.emulators_apart:
            # As with docker compose: a demo PKI first, then the state systems in their own process.
            await asyncio.to_thread(
                subprocess.run, [str(GATEWAY), "demo-pki"], cwd=REPO, env=env, check=True, capture_output=True, timeout=300
            )
            emulators = Proc("emulators", [str(GATEWAY), "emulators"], env, tmp / "emulators.log")
            procs.append(emulators)
            await wait_http(env["GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL"].rstrip("/") + "/_emulator/received", emulators, 180)
            env = {**env, "GATEWAY_RUN_EMULATORS": "false", "GATEWAY_SYSTEMS__EMULATED": "true"}
        port = free_port()
        serve = Proc("serve", [str(GATEWAY), "serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "serve.log")
        procs.append(serve)
        sampler = asyncio.create_task(sample_forever(procs))
        await wait_http(f"http://127.0.0.1:{port}/healthz", serve, 180)
        for i in range(workers if pg else 0):
            worker = Proc(f"worker {i + 1}", [str(GATEWAY), "worker"], env, tmp / f"worker{i + 1}.log")
            procs.append(worker)
            await wait_line(worker, "Обработчик очереди запущен", 180)
        killer = None
        if pg and opts.kill_worker_at_s is not None:
            killer = asyncio.create_task(_kill_a_worker(procs, env, tmp, opts.kill_worker_at_s, result))
        await _gateway_way(f"http://127.0.0.1:{port}", settings, opts, tag, result)
        if killer is not None:
            await killer
    except BaseException:
        failed = True
        for p in procs:
            print(f"--- log tail of {p.name} ({p.log}):\n{p.tail()}", file=sys.stderr)
        raise
    finally:
        stop_all(procs)
        if sampler is not None:
            sampler.cancel()
        result.rss = [(p.name, p.hwm_kb) for p in procs]
        try:
            if not failed:
                await _ceiling(tmp, db_name, opts, result)
        finally:
            if db_created and opts.keep:
                print(f"kept: database {db_name}, RabbitMQ queues e2e{tag}.* (delete them yourself)", file=sys.stderr)
            elif db_created:
                try:
                    await _delete_topology(settings)
                except Exception as exc:  # noqa: BLE001 - cleanup reports, never masks the run's outcome
                    print(f"RabbitMQ topology e2e{tag}.* not deleted: {type(exc).__name__}: {exc}", file=sys.stderr)
                await _pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            if opts.keep or failed:
                print(f"temporary directory kept: {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return result


async def _kill_a_worker(procs: list[Proc], env: dict[str, str], tmp: Path, after_s: float, result: RunResult) -> None:
    """SIGKILL worker 1 ``after_s`` seconds into the run, then start a new worker in its place."""
    await asyncio.sleep(after_s)
    victim = next(p for p in procs if p.name == "worker 1")
    victim.sample()
    victim.popen.send_signal(signal.SIGKILL)
    await asyncio.to_thread(victim.popen.wait, 30)
    result.notes.append(f"worker 1 killed with SIGKILL {after_s:.1f} s into the run and started again")
    again = Proc("worker 1 (restarted)", [str(GATEWAY), "worker"], env, tmp / "worker1-restarted.log")
    procs.append(again)


async def _gateway_way(base: str, settings: Settings, opts: Options, tag: str, result: RunResult) -> None:
    ctx = await Context.open(settings, migrate=False)
    try:
        pki = settings.effective_pki_dir
        signer = load_signer(pki / "provider.key.pem", pki / "provider.pem", demo_password(settings))
        cert = signer.certificate
        provider = ProviderIdentity(str(cert.subject.get("O", "исполнитель услуг")), str(cert.innle or cert.inn), str(cert.ogrn))
        docs = plan(opts.n, ctx.profiles, ctx.clock.today(), tag, provider)
        keys = {d.creator for d in docs} | {who for d in docs for _, who in d.actions}
        pollers_keys = {m: (m, Role.authorized_body.value, org_of(p, Role.authorized_body.value), None) for m, p in ctx.profiles.items()}
        keys |= set(pollers_keys.values())
        issued = {k: await tokens.issue(ctx, k[0], k[2], Role(k[1]), inn=k[3]) for k in sorted(keys, key=str)}
    finally:
        await ctx.close()
    pollers = {m: issued[k] for m, k in pollers_keys.items()}
    mix = Counter(d.type for d in docs)
    result.notes.append(f"documents: {len(docs)} ({', '.join(f'{t} {mix[t]}' for t in ORDER if mix[t])}) over {len(pollers)} municipalities")
    connector = aiohttp.TCPConnector(limit=opts.concurrency + len(pollers) + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        api = Api(session, base, result.stats)
        submit_mode = opts.submit
        if submit_mode == "batch":
            status, _ = await api.call("probe", "POST", "/api/v1/documents/batch", next(iter(pollers.values())), {"items": []}, record=False)
            if status in (404, 405):
                result.notes.append(f"batch submit unavailable (POST /api/v1/documents/batch answered {status}): single requests used")
                submit_mode = "single"
            else:
                result.notes.append(f"batch submit: POST /api/v1/documents/batch, up to {opts.batch_size} items per request")
        runner = Runner(api, issued, signer, opts.concurrency, submit_mode, opts.batch_size, result, opts.stall_s)
        phases = phase_order(docs)
        started = time.perf_counter()
        for wave in (1, 2):
            todo = [d for d in docs if d.wave == wave]
            if todo and not await runner.wave(todo, phases, pollers):
                result.notes.append(f"round {wave}: deliveries made no progress for {opts.stall_s:.0f} s; stopped waiting")
                break
        result.whole_s = time.perf_counter() - started
        await verify(api, docs, pollers, opts.concurrency, result)
    result.bodies = [d.body() for d in docs]
    unsent = Counter(d.ends_before_send for d in docs if d.ends_before_send)
    for why, count in unsent.items():
        result.notes.append(f"ends before send by design: {count} ({why})")


async def _ceiling(tmp: Path, db_name: str | None, opts: Options, result: RunResult) -> None:
    port = free_port()
    if db_name is None:
        where = ["--sqlite", str(tmp / "ceiling.sqlite3")]
        result.ceiling_label = "aiohttp + aiosqlite, SQLite WAL synchronous=NORMAL, one writing connection"
    else:
        where = ["--pg", f"postgresql://{PG_BASE}/{db_name}"]
        result.ceiling_label = "aiohttp + asyncpg pool of 10-20, table in the run's PostgreSQL database"
    proc = Proc("ceiling", [str(PYTHON), str(REPO / "bench" / "e2e_ceiling.py"), "--port", str(port), *where], dict(os.environ), tmp / "ceiling.log")
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc, 60)
        bodies = result.bodies  # the same submit bodies the gateway was sent
        connector = aiohttp.TCPConnector(limit=opts.concurrency + 4)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
            api = Api(session, f"http://127.0.0.1:{port}", result.ceiling_stats)

            async def one(body: dict[str, Any]) -> None:
                await api.call("ceiling", "POST", "/api/v1/documents", None, body)

            started = time.perf_counter()
            await pool(bodies, one, opts.concurrency)
            result.ceiling_rate = len(bodies) / (time.perf_counter() - started)
    finally:
        stop_all([proc])


# --------------------------------------------------------------------------- output
def print_result(r: RunResult, opts: Options) -> None:
    def out(line: str) -> None:
        print(line, flush=True)

    out(f"== backend: {r.label}; clients {opts.concurrency}")
    if opts.emulators_apart:
        out("emulators: their own process (gateway emulators), on loopback")
    else:
        out("gateway serve runs the emulators in-process: its CPU and RSS include theirs")
    rates = "lifted" if opts.lift_rate_limits else "kept at the gateway's defaults"
    out(f"adapters' rate limits: {rates}")
    for note in r.notes:
        out(note)
    for p in r.phases.values():
        rate = p.docs / p.seconds if p.seconds else 0.0
        out(f"phase {p.name}: {p.docs} docs in {p.seconds:.2f} s = {rate:.1f} docs/s")
    whole = r.completed / r.whole_s if r.whole_s else 0.0
    out(f"whole way: {r.completed} of {r.n} documents done in {r.whole_s:.2f} s = {whole:.1f} docs/s")
    for kind, values in r.stats.latency.items():
        out(f"latency {kind}: p50 {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms ({len(values)} requests)")
    if r.stats.errors:
        for (kind, status, code), count in sorted(r.stats.errors.items()):
            out(f"errors {kind} {status} {code}: {count}")
    else:
        out("errors: none")
    for what, count in sorted(r.outcome.items()):
        out(f"outcome {what}: {count}")
    for line in r.stuck:
        out(f"stuck: {line}")
    for line in r.status_left_sent:
        out(f"every delivery delivered but status still sent: {line}")
    for name, kb in r.rss:
        out(f"peak RSS {name}: {kb / 1024:.0f} MB")
    if r.ceiling_rate:
        values = r.ceiling_stats.latency.get("ceiling", [])
        out(f"ceiling ({r.ceiling_label}): {r.ceiling_rate:.0f} req/s"
            + (f", p50 {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms" if values else ""))  # fmt: skip
        for (_kind, status, code), count in sorted(r.ceiling_stats.errors.items()):
            out(f"ceiling errors {status} {code}: {count}")
        submit = r.phases.get("submit")
        out(f"whole way ratio vs ceiling: {whole / r.ceiling_rate:.3f}")
        if submit and submit.seconds:
            out(f"submit ratio vs ceiling: {submit.docs / submit.seconds / r.ceiling_rate:.3f}")


async def amain(opts: Options, runs: list[tuple[str, int]]) -> None:
    for backend, workers in runs:
        result = await run_backend(backend, workers, opts)
        print_result(result, opts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="documents (default 2000)")
    parser.add_argument("-c", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--backend", choices=("embedded", "pg-rabbit"), default="embedded")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1, help="gateway worker processes (pg-rabbit)")
    parser.add_argument("--all", action="store_true", help="embedded, pg-rabbit x1, pg-rabbit x2 in sequence")
    parser.add_argument("--submit", choices=("single", "batch"), default="single")
    parser.add_argument("--batch-size", type=int, default=200, help="items per batch request (at most 1000)")
    parser.add_argument("--keep-rate-limits", action="store_true", help="keep the adapters' default rate limits")
    parser.add_argument("--log-level", default=None, help="GATEWAY_LOG_LEVEL of the gateway processes (default: theirs)")
    parser.add_argument("--emulators-in-serve", action="store_true",
                        help="let gateway serve run the emulators in its own process (default: a process of their own)")
    parser.add_argument("--kill-worker-at", type=float, default=None, metavar="S",
                        help="pg-rabbit: SIGKILL worker 1 S seconds into the run and start it again")
    parser.add_argument("--stall", type=float, default=120.0, help="stop waiting for deliveries after this many seconds without progress")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (logs, SQLite files), the PostgreSQL database and the RabbitMQ queues")
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be 1..1000")
    opts = Options(
        n=args.n, concurrency=args.c, submit=args.submit, batch_size=args.batch_size,
        lift_rate_limits=not args.keep_rate_limits, log_level=args.log_level, stall_s=args.stall, keep=args.keep,
        kill_worker_at_s=args.kill_worker_at, emulators_apart=not args.emulators_in_serve,
    )  # fmt: skip
    runs = [("embedded", 0), ("pg-rabbit", 1), ("pg-rabbit", 2)] if args.all else [(args.backend, args.workers)]

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # so that the processes started here are stopped by the finally blocks

    signal.signal(signal.SIGTERM, terminate)
    asyncio.run(amain(opts, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
