"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis).

The gateway runs in a thread of this process on a loopback port, on SQLite, with no
transport and no delivery worker; the state systems point at a closed loopback port, so
nothing leaves the machine.  Every operation is tried with the token of each role, with
valid and invalid input (a fixed seed: the same cases on every run), and every answer must
be documented: no 5xx, a documented status and content type, a body that matches the
schema, and every 4xx in problem+json.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from aiohttp import web
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.config import SystemsSettings
from gateway.app.http import ProblemAppRunner, create_app
from gateway.app.openapi import openapi_document
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.documents.identifiers import make_inn10
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.municipalities import Role
from gateway.workflow.app_keys import SERVICE
from gateway.workflow.examples import example_payload
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM_TYPE
from gateway.workflow.problems import Problem
from gateway.workflow.service import Submission
from gateway.workflow.tokens import authenticate, issue
from signing.test_pki import TestPKI
from tests.support.gateway import DEFAULT_NOW, install_pki, make_settings
from tests.support.net import free_port

#: Fixed, so every run sends the same cases; ``GATEWAY_FUZZ_SEED`` and ``GATEWAY_FUZZ_EXAMPLES``
#: change them for a longer exploratory run (the defaults keep this file near a minute on 2 cores).
SEED = int(os.environ.get("GATEWAY_FUZZ_SEED", "20261123"))
#: Generated cases per operation and role in the fuzzing phase; the examples and coverage
#: phases add their own, deterministic ones.
MAX_EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "25"))

#: A provider's INN with valid check digits (tokens are issued only for those).
PROVIDER_INN = make_inn10(7701234)
#: role → (municipality, organisation, role, INN): organisations of the profiles.
TOKENS: dict[str, tuple[str, str, str, str | None]] = {
    "authorized_body": ("luga", "administration", "authorized_body", None),
    "finance_department": ("livny", "finance_department", "finance_department", None),
    "operator": ("luga", "support_centre", "operator", None),
    "provider": ("luga", "Пример", "provider", PROVIDER_INN),
    "auditor": ("luga", "gateway_operator", "auditor", None),
}
#: Who creates each document type in the seed data (luga).
CREATORS = {
    "social_order": "authorized_body", "order_execution_report": "authorized_body",
    "provider_registry_application": "provider", "cost_agreement": "authorized_body",
    "consumer_application": "operator", "social_certificate": "authorized_body", "service_contract": "provider",
}  # fmt: skip


#: Ids of the seeded documents and of the configured municipalities, filled when the gateway
#: starts; the strategies read them at each draw.
SEEDED_IDS: list[str] = []
MUNICIPALITY_IDS: list[str] = []


@dataclass
class Gateway:
    """The app served from its own event loop in a thread, with a token per role and seeded documents."""

    settings: Any
    port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="fuzz-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the gateway did not start")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            ctx = await Context.open(self.settings, clock=FixedClock(DEFAULT_NOW))
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        runner: ProblemAppRunner | None = None
        try:
            app = create_app(ctx)
            await self._issue_tokens(ctx)
            await self._seed(ctx, app)
            runner = ProblemAppRunner(app)  # as ``gateway serve`` runs it
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
        except BaseException as exc:
            self._error = exc
        self._ready.set()
        try:
            if self._error is None:
                await self._stop.wait()
        finally:
            if runner is not None:
                await runner.cleanup()
            # Background work the requests started (register syncs) ends with the server.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await ctx.close()

    async def _issue_tokens(self, ctx: Context) -> None:
        for name, (municipality, org, role, inn) in TOKENS.items():
            try:
                self.tokens[name] = await issue(ctx, municipality, org, Role(role), inn=inn)
            except Problem as refused:  # the profile has no such organisation or role
                self.refused[name] = refused.code

    async def _seed(self, ctx: Context, app: web.Application) -> None:
        """One document of every type in luga, so fuzzed ids sometimes name a real document."""
        MUNICIPALITY_IDS[:] = sorted(ctx.profiles)
        service = app[SERVICE]
        profile = ctx.profiles["luga"]
        for doc_type in DOCUMENT_TYPES:
            token = self.tokens.get(CREATORS[doc_type])
            if token is None:
                continue
            actor = await authenticate(ctx, f"Bearer {token}")
            payload = example_payload(doc_type, profile, ctx.clock.today())
            try:
                accepted = await service.submit(actor, Submission(doc_type, "luga", payload))
            except Problem:
                continue  # a type whose example needs a linked document first
            SEEDED_IDS.append(str(accepted.body["id"]))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, pki: TestPKI) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("fuzz")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: every state system is unreachable at once
    systems = SystemsSettings.model_validate(
        {name: {"base_url": closed, "connect_timeout_s": 1, "timeout_s": 2, "read_attempts": 1}
         for name in ("electronic_budget", "budget_portal", "navigator", "eais")}
    )  # fmt: skip
    settings = make_settings(Path(tmp), systems=systems, run_emulators=False)
    install_pki(pki, settings.data_dir)
    SEEDED_IDS.clear()
    MUNICIPALITY_IDS.clear()
    server = Gateway(settings)
    server.start()
    yield server
    server.stop()


#: Operations that reach a state system, or report on one: with every system unreachable
#: here, their documented 503 is the right answer and not a server fault (readiness goes
#: 503 once a poller's circuit opens against the unreachable Navigator).
REACHES_SYSTEMS = [("POST", "/api/v1/agreements/poll"), ("GET", "/readyz")]
#: Operations whose coverage phase walks every payload model (thousands of cases): it runs
#: once, with the token that creates most document types, not with every role.
PAYLOAD_OPERATIONS = [("POST", "/api/v1/documents"), ("POST", "/api/v1/documents/batch")]
PAYLOAD_ROLE = "authorized_body"


def _config(*, payload_coverage: bool) -> schemathesis.Config:
    operations: list[dict[str, Any]] = [
        {"include-method": method, "include-path": path,
         "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}}
        for method, path in REACHES_SYSTEMS
    ]  # fmt: skip
    if not payload_coverage:
        operations += [
            {"include-method": method, "include-path": path, "phases": {"coverage": {"enabled": False}}}
            for method, path in PAYLOAD_OPERATIONS
        ]
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "request-timeout": 30,
        "operations": operations,
    })  # fmt: skip


# The document the gateway serves (a test below holds the two equal), loaded at collection
# so that each operation is a test of its own.
schema = schemathesis.openapi.from_dict(openapi_document(), config=_config(payload_coverage=False))
# (``exclude``: an ``include`` would only widen the filter the configuration already set)
payload_schema = schemathesis.openapi.from_dict(openapi_document(), config=_config(payload_coverage=True)).exclude(
    lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) not in PAYLOAD_OPERATIONS
)


def _sometimes(name: str, known: list[str]) -> Any:
    """A strategy transform: keep the generated ``name``, or put one of ``known`` (read at draw time) there."""

    def choose(values: Any) -> st.SearchStrategy[Any]:
        if not isinstance(values, dict) or name not in values or not known:
            return st.just(values)
        return st.sampled_from([values, *({**values, name: k} for k in known)])

    return choose


@schema.hook
def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An ``id`` is often a seeded document's (or a configured municipality's), so the routes behind
    the 404 are reached too."""
    known = MUNICIPALITY_IDS if context.operation.path.startswith("/api/v1/municipalities/") else SEEDED_IDS
    return strategy.flatmap(_sometimes("id", known))


@schema.hook
def before_generate_query(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A ``municipality`` filter is often a configured one: the token's, or another's (403)."""
    return strategy.flatmap(_sometimes("municipality", MUNICIPALITY_IDS))


def problem_json_for_4xx(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every client error is an RFC 9457 problem in application/problem+json."""
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", [""])
        value = ctype[0] if isinstance(ctype, list) else str(ctype)
        assert value.split(";")[0].strip() == PROBLEM_TYPE, f"{response.status_code} answered as {value!r}"
        body = response.json()
        assert isinstance(body, dict) and body.get("status") == response.status_code, body
    return None


BULK_PATHS = ("/api/v1/documents/batch", "/api/v1/documents/actions")


def no_failed_items(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A bulk route answers 200 with a result per item: an item's 500 is a server fault all the same."""
    if case.operation.path in BULK_PATHS and response.status_code == 200:
        crashed = [r for r in response.json()["results"] if r["status"] == 500]
        assert not crashed, f"items answered 500: {crashed}"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          problem_json_for_4xx, no_failed_items]  # fmt: skip


def _authorization(gateway: Gateway, role: str) -> dict[str, str]:
    """The header of ``role``'s token (none for ``anonymous``: a fuzzed one, if any, is sent)."""
    if role == "anonymous":
        return {}
    if role not in gateway.tokens:
        pytest.skip(f"no {role} token: {gateway.refused.get(role)}")
    return {"Authorization": f"Bearer {gateway.tokens[role]}"}


@pytest.fixture(scope="module", params=[*TOKENS, "anonymous"])
def auth(request: pytest.FixtureRequest, gateway: Gateway) -> dict[str, str]:
    return _authorization(gateway, request.param)


@pytest.fixture(scope="module")
def payload_auth(gateway: Gateway) -> dict[str, str]:
    return _authorization(gateway, PAYLOAD_ROLE)


def test_fuzzed_document_is_the_served_one(gateway: Gateway) -> None:
    with urllib.request.urlopen(f"{gateway.base_url}/api/openapi.json", timeout=10) as resp:
        assert json.loads(resp.read()) == openapi_document()


@schema.parametrize()
def test_api_answers_as_documented(case: schemathesis.Case, gateway: Gateway, auth: dict[str, str]) -> None:
    case.call_and_validate(base_url=gateway.base_url, headers=auth, checks=CHECKS)


@payload_schema.parametrize()
def test_payload_coverage(case: schemathesis.Case, gateway: Gateway, payload_auth: dict[str, str]) -> None:
    """Every boundary value and wrong type of every payload field, once."""
    case.call_and_validate(base_url=gateway.base_url, headers=payload_auth, checks=CHECKS)
