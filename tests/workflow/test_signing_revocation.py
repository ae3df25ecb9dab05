"""The sign action checks revocation from the network: CDP/OCSP of the CA emulator, hard and soft policy.

The provider's certificate names the CA emulator's distribution point and OCSP
responder on a loopback port; the emulator runs, or nothing listens there.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import RevocationSettings
from gateway.store.tables import journal
from signing import cms
from signing.trust_store import Policy
from tests.support.ca import CaPKI, ca_pki, running_ca
from tests.support.gateway import DEFAULT_NOW, Api, make_settings
from tests.workflow.test_signing_rule import b64, document_xml, provider_application

PASSWORD_ENV = "GATEWAY_TEST_REVOCATION_KEY_PASSWORD"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> CaPKI:
    setup = ca_pki()
    directory = tmp_path_factory.mktemp("pki-net")
    os.environ[PASSWORD_ENV] = secrets.token_urlsafe(12)
    setup.pki.write(directory, os.environ[PASSWORD_ENV], pkcs12=False)
    setup.directory = directory  # type: ignore[attr-defined]
    return setup


async def open_api(
    net: CaPKI, tmp_path: Path, policy: Policy, aiohttp_client: Callable[..., Awaitable[Any]]
) -> tuple[Api, Context]:
    from gateway.app.http import create_app

    settings = make_settings(tmp_path, revocation=RevocationSettings(policy=policy, fetch_timeout_s=2.0))
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    shutil.copytree(net.directory, data / "pki", dirs_exist_ok=True)  # type: ignore[attr-defined]
    (data / "pki" / "ca.crl").unlink()  # revocation from the network only (a current ca.crl would answer too)
    entries = [{"role": "authorized_body", "key": "pki/authorized_body.key.pem", "certificate": "pki/authorized_body.pem",
                "password_env": PASSWORD_ENV}]  # fmt: skip
    (data / "keys.yaml").write_text(yaml.safe_dump({"keys": entries}), encoding="utf-8")
    ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    client = await aiohttp_client(create_app(ctx))
    return Api(client, ctx), ctx


@pytest.fixture
async def contexts() -> AsyncIterator[list[Context]]:
    opened: list[Context] = []
    yield opened
    for ctx in opened:
        await ctx.close()


async def sign_as_provider(api: Api, net: CaPKI) -> tuple[str, int, Any]:
    doc_id, provider, _ = await provider_application(api)
    xml = await document_xml(api, provider, doc_id)
    der = cms.sign_detached(xml, net.pki.signer("provider"))
    status, body = await api.act(provider, doc_id, "sign", {"signature": b64(der)})
    return doc_id, status, body


async def journal_events(ctx: Context, doc_id: str, event: str) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        rows = await conn.execute(sa.select(journal.c.details).where(journal.c.document_id == doc_id, journal.c.event == event))
        return [dict(r) for r in rows.scalars()]


async def test_cdp_unreachable_hard_refuses_with_the_reason(
    net: CaPKI, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Any]], contexts: list[Context]
) -> None:
    api, ctx = await open_api(net, tmp_path, "hard", aiohttp_client)
    contexts.append(ctx)
    doc_id, status, problem = await sign_as_provider(api, net)
    assert status == 422, problem
    detail = " ".join(str(e.get("detail", "")) for e in problem.get("errors", [problem]))
    assert "signature_chain_invalid" in {e.get("code") for e in problem.get("errors", [])} | {problem.get("code")}
    assert net.crl_url in detail and "не получен" in detail
    assert await journal_events(ctx, doc_id, "revocation_unknown") == []


async def test_cdp_unreachable_soft_accepts_and_journals_a_warning(
    net: CaPKI, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Any]], contexts: list[Context]
) -> None:
    api, ctx = await open_api(net, tmp_path, "soft", aiohttp_client)
    contexts.append(ctx)
    doc_id, status, doc = await sign_as_provider(api, net)
    assert status == 200 and doc["status"] == "signed", doc
    (warning,) = await journal_events(ctx, doc_id, "revocation_unknown")
    assert warning["serial"] == format(net.pki.certificate("provider").serial, "x")
    assert warning["revocation"] == "unavailable" and warning["code"] in ("ocsp_unavailable", "crl_unavailable")
    assert net.crl_url in warning["reason"]


async def test_good_by_ocsp_and_crl_is_accepted(
    net: CaPKI, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Any]], contexts: list[Context]
) -> None:
    async with running_ca(net) as ca:
        api, ctx = await open_api(net, tmp_path, "hard", aiohttp_client)
        contexts.append(ctx)
        doc_id, status, doc = await sign_as_provider(api, net)
        assert status == 200 and doc["status"] == "signed", doc
        assert ca.state.ocsp_requests == 1 and ca.state.crl_requests == 1
        assert sorted(p.name for p in (tmp_path / "var" / "revocation").iterdir()) == ["crl", "ocsp"]
        assert await journal_events(ctx, doc_id, "revocation_unknown") == []


async def test_revoked_by_the_ca_is_refused(
    net: CaPKI, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Any]], contexts: list[Context]
) -> None:
    async with running_ca(net) as ca:
        ca.state.revoke(net.pki.certificate("provider").serial, "key_compromise")
        api, ctx = await open_api(net, tmp_path, "soft", aiohttp_client)
        contexts.append(ctx)
        _, status, problem = await sign_as_provider(api, net)
        assert status == 422, problem
        assert "отозван" in str(problem) and "компрометация ключа" in str(problem)
